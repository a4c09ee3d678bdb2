import { expect, test } from 'vitest';
import { fromChartEnvironment } from './main.ts';

test('the chart environment sets the injected ports/resources and the shared journal store, never a shared password', () => {
  const r = fromChartEnvironment({
    AIROUTE_SIDECAR_DATA_PORT: '4100',
    AIROUTE_SIDECAR_ADMIN_PORT: '4101',
    AIROUTE_SIDECAR_RESOURCES: '{"requests":{"cpu":"10m"}}',
    AIROUTE_JOURNAL: '{"type":"redis","url":"rediss://r:6380/0","keyPrefix":"app:"}',
  });
  expect(r.injection).toEqual({ dataPort: 4100, adminPort: 4101, resources: { requests: { cpu: '10m' } } });
  expect(r.defaults).toEqual({ journal: { type: 'redis', url: 'rediss://r:6380/0', keyPrefix: 'app:' } });
  expect(() => fromChartEnvironment({ AIROUTE_JOURNAL: '{"type":"redis","url":"redis://r","password":{"value":"pw"}}' })).toThrow(/no password here/);
  expect(fromChartEnvironment({ AIROUTE_JOURNAL: '{"type":"memory"}' }).defaults).toBeUndefined();
  expect(() => fromChartEnvironment({ AIROUTE_SIDECAR_DATA_PORT: 'x' })).toThrow(/AIROUTE_SIDECAR_DATA_PORT/);
});
