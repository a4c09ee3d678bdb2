// The names both ends of a config push agree on (docs/operator.md, "Trusting the push"): the
// operator proves itself with a client certificate of OPERATOR_COMMON_NAME; the sidecar proves its
// pod with a projected ServiceAccount token for IDENTITY_AUDIENCE and serves a certificate for
// SIDECAR_TLS_NAME, which the operator pins.

/** Audience of the pod-bound token the sidecar presents; the operator reviews it for this one. */
export const IDENTITY_AUDIENCE = 'airoute-operator';
/** Common name of the operator's client certificate, issued by the push CA. */
export const OPERATOR_COMMON_NAME = 'airoute-operator';
/** Where the webhook mounts the identity token in the sidecar. */
export const DEFAULT_IDENTITY_TOKEN_FILE = '/var/run/airoute/identity/token';
/** The name in every sidecar's certificate (a pod IP has none): the operator pins the certificate
 *  itself and checks this name, which keeps its kept-alive connections reusable. */
export const SIDECAR_TLS_NAME = 'airoute-sidecar';
