// The Pod Security Standards, `baseline` and `restricted` levels, as the Kubernetes documentation
// (concepts/security/pod-security-standards) and the pod-security-admission checks
// (k8s.io/pod-security-admission/policy) define them for the latest policy version. Written from
// that spec for the packaging tests; each violation names the control and the field.
import { isObj, type Obj } from './support.ts';

export interface Violation {
  control: string;
  field: string;
  detail: string;
}

type Container = Obj & { name?: string; securityContext?: Obj; ports?: Obj[] };

const BASELINE_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
/** Restricted: the only inline volume sources allowed. */
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

function containersOf(spec: Obj): { path: string; c: Container }[] {
  const out: { path: string; c: Container }[] = [];
  for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const cs = spec[list];
    if (Array.isArray(cs)) cs.forEach((c, i) => isObj(c) && out.push({ path: `spec.${list}[${i}]`, c: c as Container }));
  }
  return out;
}

const sc = (c: Container): Obj => (isObj(c.securityContext) ? c.securityContext : {});

/** Violations of `baseline` for a pod (metadata + spec). */
export function baseline(pod: { metadata?: Obj; spec: Obj }): Violation[] {
  const v: Violation[] = [];
  const spec = pod.spec;
  const psc: Obj = isObj(spec.securityContext) ? spec.securityContext : {};
  const add = (control: string, field: string, detail: string) => v.push({ control, field, detail });
  const cs = containersOf(spec);

  // HostProcess (Windows)
  if ((psc.windowsOptions as Obj | undefined)?.hostProcess === true) add('HostProcess', 'spec.securityContext.windowsOptions.hostProcess', 'must be false or unset');
  for (const { path, c } of cs) if ((sc(c).windowsOptions as Obj | undefined)?.hostProcess === true) add('HostProcess', `${path}.securityContext.windowsOptions.hostProcess`, 'must be false or unset');
  // Host namespaces
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (spec[f] === true) add('Host Namespaces', `spec.${f}`, 'must be false or unset');
  // Privileged containers
  for (const { path, c } of cs) if (sc(c).privileged === true) add('Privileged Containers', `${path}.securityContext.privileged`, 'must be false or unset');
  // Capabilities (baseline list)
  for (const { path, c } of cs) {
    const added = (sc(c).capabilities as Obj | undefined)?.add;
    if (Array.isArray(added)) for (const cap of added) if (!BASELINE_CAPS.has(String(cap))) add('Capabilities', `${path}.securityContext.capabilities.add`, `${cap} is not in the baseline set`);
  }
  // HostPath volumes
  const volumes = Array.isArray(spec.volumes) ? (spec.volumes as Obj[]) : [];
  volumes.forEach((vol, i) => vol.hostPath !== undefined && add('HostPath Volumes', `spec.volumes[${i}].hostPath`, `volume ${vol.name} uses hostPath`));
  // Host ports
  for (const { path, c } of cs) (c.ports ?? []).forEach((p, i) => isObj(p) && p.hostPort !== undefined && p.hostPort !== 0 && add('Host Ports', `${path}.ports[${i}].hostPort`, 'must be 0 or unset'));
  // Host probes / lifecycle hooks (1.34+): no `host` on httpGet or tcpSocket handlers
  for (const { path, c } of cs) {
    const handlers: [string, unknown][] = [
      ['livenessProbe', c.livenessProbe], ['readinessProbe', c.readinessProbe], ['startupProbe', c.startupProbe],
      ['lifecycle.postStart', (c.lifecycle as Obj | undefined)?.postStart], ['lifecycle.preStop', (c.lifecycle as Obj | undefined)?.preStop],
    ];
    for (const [name, h] of handlers) {
      if (!isObj(h)) continue;
      for (const kind of ['httpGet', 'tcpSocket'] as const) {
        const host = (h[kind] as Obj | undefined)?.host;
        if (host !== undefined && host !== '') add('Host Probes / Lifecycle Hooks', `${path}.${name}.${kind}.host`, 'must be unset');
      }
    }
  }
  // AppArmor: not Unconfined (field), annotations only runtime/default or localhost/*
  const apparmor = (o: Obj, field: string) => {
    const p = o.appArmorProfile as Obj | undefined;
    if (p && p.type !== 'RuntimeDefault' && p.type !== 'Localhost') add('AppArmor', field, `type ${p.type} is not allowed`);
  };
  apparmor(psc, 'spec.securityContext.appArmorProfile');
  for (const { path, c } of cs) apparmor(sc(c), `${path}.securityContext.appArmorProfile`);
  for (const [k, val] of Object.entries((pod.metadata?.annotations as Obj | undefined) ?? {}))
    if (k.startsWith('container.apparmor.security.beta.kubernetes.io/') && val !== 'runtime/default' && !String(val).startsWith('localhost/')) add('AppArmor', `metadata.annotations[${k}]`, `${val} is not allowed`);
  // SELinux
  const selinux = (o: Obj, field: string) => {
    const s = o.seLinuxOptions as Obj | undefined;
    if (!s) return;
    if (!SELINUX_TYPES.has(String(s.type ?? ''))) add('SELinux', `${field}.type`, `${s.type} is not allowed`);
    for (const f of ['user', 'role'] as const) if (s[f] !== undefined && s[f] !== '') add('SELinux', `${field}.${f}`, 'must be unset');
  };
  selinux(psc, 'spec.securityContext.seLinuxOptions');
  for (const { path, c } of cs) selinux(sc(c), `${path}.securityContext.seLinuxOptions`);
  // /proc mount
  for (const { path, c } of cs) if (sc(c).procMount !== undefined && sc(c).procMount !== 'Default') add('/proc Mount Type', `${path}.securityContext.procMount`, 'must be Default or unset');
  // Seccomp: never Unconfined
  if ((psc.seccompProfile as Obj | undefined)?.type === 'Unconfined') add('Seccomp', 'spec.securityContext.seccompProfile.type', 'Unconfined is not allowed');
  for (const { path, c } of cs) if ((sc(c).seccompProfile as Obj | undefined)?.type === 'Unconfined') add('Seccomp', `${path}.securityContext.seccompProfile.type`, 'Unconfined is not allowed');
  // Sysctls
  const sysctls = Array.isArray(psc.sysctls) ? (psc.sysctls as Obj[]) : [];
  sysctls.forEach((s, i) => !SAFE_SYSCTLS.has(String(s.name)) && add('Sysctls', `spec.securityContext.sysctls[${i}].name`, `${s.name} is not a safe sysctl`));
  return v;
}

/** Violations of `restricted` (which includes everything in `baseline`). */
export function restricted(pod: { metadata?: Obj; spec: Obj }): Violation[] {
  const v = baseline(pod);
  const spec = pod.spec;
  const psc: Obj = isObj(spec.securityContext) ? spec.securityContext : {};
  const add = (control: string, field: string, detail: string) => v.push({ control, field, detail });
  const cs = containersOf(spec);

  // Volume types
  const volumes = Array.isArray(spec.volumes) ? (spec.volumes as Obj[]) : [];
  volumes.forEach((vol, i) => {
    const sources = Object.keys(vol).filter((k) => k !== 'name');
    for (const s of sources) if (!RESTRICTED_VOLUMES.has(s)) add('Volume Types', `spec.volumes[${i}].${s}`, `volume ${vol.name} uses restricted type ${s}`);
  });
  // Privilege escalation: every container sets allowPrivilegeEscalation: false
  for (const { path, c } of cs) if (sc(c).allowPrivilegeEscalation !== false) add('Privilege Escalation', `${path}.securityContext.allowPrivilegeEscalation`, 'must be false');
  // Running as non-root: pod-level true (and no container false), or every container true
  const podNonRoot = psc.runAsNonRoot === true;
  for (const { path, c } of cs) {
    const own = sc(c).runAsNonRoot;
    if (own === false) add('Running as Non-root', `${path}.securityContext.runAsNonRoot`, 'must not be false');
    else if (own !== true && !podNonRoot) add('Running as Non-root', `${path}.securityContext.runAsNonRoot`, 'must be true (here or at pod level)');
  }
  // Running as non-root user: runAsUser never 0
  if (psc.runAsUser === 0) add('Running as Non-root user', 'spec.securityContext.runAsUser', 'must not be 0');
  for (const { path, c } of cs) if (sc(c).runAsUser === 0) add('Running as Non-root user', `${path}.securityContext.runAsUser`, 'must not be 0');
  // Seccomp: RuntimeDefault or Localhost, at pod level or on every container
  const okProfile = (p: unknown) => isObj(p) && (p.type === 'RuntimeDefault' || p.type === 'Localhost');
  const podSeccomp = okProfile(psc.seccompProfile);
  for (const { path, c } of cs) {
    const own = sc(c).seccompProfile;
    if (own !== undefined ? !okProfile(own) : !podSeccomp) add('Seccomp', `${path}.securityContext.seccompProfile.type`, 'must be RuntimeDefault or Localhost (here or at pod level)');
  }
  // Capabilities: drop ALL, add nothing but NET_BIND_SERVICE
  for (const { path, c } of cs) {
    const caps = (sc(c).capabilities as Obj | undefined) ?? {};
    const drop = Array.isArray(caps.drop) ? caps.drop.map(String) : [];
    if (!drop.includes('ALL')) add('Capabilities', `${path}.securityContext.capabilities.drop`, 'must include ALL');
    const added = Array.isArray(caps.add) ? caps.add.map(String) : [];
    for (const cap of added) if (cap !== 'NET_BIND_SERVICE') add('Capabilities', `${path}.securityContext.capabilities.add`, `${cap} is not allowed (only NET_BIND_SERVICE)`);
  }
  return v;
}

export const describe = (vs: Violation[]) => vs.map((x) => `${x.control}: ${x.field}: ${x.detail}`);
