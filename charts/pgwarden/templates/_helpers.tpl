{{/*
Names are fixed (pgwarden, pgwarden-webhook, pgwarden-mutating, ...): the
operator looks for its Service, webhook configurations and Lease by these
names, and the CRDs and webhooks are cluster-wide, so one release per cluster.
*/}}

{{/* Helm's standard labels plus part-of, on every object the chart templates. */}}
{{- define "pgwarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: pgwarden
app.kubernetes.io/name: pgwarden
{{- end }}

{{/* What the Deployment, Service and PDB select: never change it (a Deployment's selector is immutable). */}}
{{- define "pgwarden.selectorLabels" -}}
app.kubernetes.io/name: pgwarden
app.kubernetes.io/component: operator
{{- end }}

{{- define "pgwarden.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "pgwarden.certManager" -}}
{{- if eq .Values.certificates.mode "cert-manager" }}true{{ end -}}
{{- end }}

{{/* The webhooks leave out the operator's own namespace (its pods never wait on themselves) and kube-system. */}}
{{- define "pgwarden.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [{{ .Release.Namespace | quote }}, "kube-system"]
{{- end }}

{{/* cert-manager fills the caBundle from the serving Certificate's Secret. */}}
{{- define "pgwarden.webhookAnnotations" -}}
{{- if include "pgwarden.certManager" . -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/pgwarden-webhook" .Release.Namespace }}
{{- end -}}
{{- end }}
