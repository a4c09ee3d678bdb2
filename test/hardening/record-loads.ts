// Preloaded with `node --import` into a sidecar under test: appends the URL of every module the
// process loads (ES modules and CommonJS alike) to the file AIROUTE_TEST_MODULE_LOG names, so a test
// can say which libraries a running sidecar holds in memory.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const log = process.env.AIROUTE_TEST_MODULE_LOG;
if (log)
  registerHooks({
    load(url, context, next) {
      appendFileSync(log, `${url}\n`);
      return next(url, context);
    },
  });
