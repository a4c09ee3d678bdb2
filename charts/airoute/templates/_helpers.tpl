{{/* Names. */}}
{{- define "airoute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airoute.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "airoute.operatorName" -}}
{{- printf "%s-operator" (include "airoute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airoute.webhookServiceName" -}}
{{- printf "%s-webhook" (include "airoute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airoute.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "airoute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airoute.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airoute.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels. */}}
{{- define "airoute.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "airoute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: airoute
{{- end }}

{{- define "airoute.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "airoute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "airoute.operatorLabels" -}}
{{ include "airoute.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Images: repository[:tag] or repository@digest. */}}
{{- define "airoute.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "airoute.sidecarImage" -}}
{{- $s := .Values.sidecar.image }}
{{- if $s.digest }}
{{- printf "%s@%s" $s.repository $s.digest }}
{{- else }}
{{- printf "%s:%s" $s.repository (default (default .Chart.AppVersion .Values.image.tag) $s.tag) }}
{{- end }}
{{- end }}

{{- define "airoute.sidecarPullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.sidecar.image.pullPolicy }}
{{- end }}

{{/* Namespaces the webhook must never see: its own (the operator's pods are created there) and
     the configured ones (kube-system by default). */}}
{{- define "airoute.webhookExcludedNamespaces" -}}
{{- $ns := list .Release.Namespace }}
{{- range .Values.webhook.excludeNamespaces }}{{ if not (has . $ns) }}{{ $ns = append $ns . }}{{ end }}{{ end }}
{{- toJson $ns }}
{{- end }}

{{/* The Redis journal settings make sense only together; say what is missing. */}}
{{- define "airoute.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.operator.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs operator.leaderElection.enabled: true (otherwise every replica would reconcile and push)" }}
{{- end }}
{{- if and .Values.webhook.enabled .Values.operator.watchNamespace (eq .Values.operator.watchNamespace .Release.Namespace) }}
{{- fail "operator.watchNamespace must not be the release namespace: the webhook never injects there" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (has .Release.Namespace .Values.networkPolicy.namespaces) }}
{{- fail "networkPolicy.namespaces must not list the release namespace (no sidecars are injected there)" }}
{{- end }}
{{- end }}
