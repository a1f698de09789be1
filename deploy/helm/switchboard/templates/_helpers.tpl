{{- define "switchboard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "switchboard.labels" -}}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "switchboard.secretName" -}}
{{- default (printf "%s-secrets" (include "switchboard.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "switchboard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The environment every container of the chart gets: secrets from the Secret, the rest inline. */}}
{{- define "switchboard.env" -}}
- name: SWITCHBOARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "switchboard.secretName" . }}
      key: database-url
- name: SWITCHBOARD_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "switchboard.secretName" . }}
      key: jwt-secret
- name: SWITCHBOARD_MASTER_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "switchboard.secretName" . }}
      key: master-key
{{- if eq .Values.mediaStore "s3" }}
- name: SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "switchboard.secretName" . }}
      key: media-s3-secret-access-key
      optional: true
{{- end }}
- name: SWITCHBOARD_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: SWITCHBOARD_MEDIA_STORE
  value: {{ .Values.mediaStore | quote }}
- name: SWITCHBOARD_TRUSTED_PROXIES
  value: {{ .Values.trustedProxies | quote }}
- name: SWITCHBOARD_SHUTDOWN_DRAIN_SECS
  value: {{ .Values.drainSeconds | quote }}
- name: SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS
  value: {{ .Values.shutdownTimeoutSeconds | quote }}
{{- range $key, $value := .Values.config }}
- name: {{ printf "SWITCHBOARD_%s" (upper $key) }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "switchboard.securityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
