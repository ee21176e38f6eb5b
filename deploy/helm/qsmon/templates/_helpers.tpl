{{- define "qsmon.name" -}}{{ .Release.Name }}-qsmon{{- end -}}

{{- define "qsmon.labels" -}}
app.kubernetes.io/name: qsmon
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "qsmon.selector" -}}
app.kubernetes.io/name: qsmon
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The environment every qsmon container shares: Kafka, the database (from CloudNativePG's Secret), settings. */}}
{{- define "qsmon.env" -}}
- name: QSMON_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: QSMON_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.database.appSecret }}, key: {{ .Values.database.appSecretKey }}}
- name: QSMON_CONFIG_FILE
  value: /etc/qsmon/qsmon.yml
{{- if .Values.channels }}
- name: QSMON_CHANNELS_FILE
  value: /etc/qsmon/channels.yml
{{- end }}
- name: QSMON_METRICS_HOST
  value: 0.0.0.0  # probed and scraped on the pod's address
- name: QSMON_LOG_FORMAT
  value: json
- name: MPLCONFIGDIR
  value: /tmp/matplotlib
{{- end -}}

{{- define "qsmon.volumes" -}}
- name: config
  configMap: {name: {{ include "qsmon.name" . }}-config}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "qsmon.mounts" -}}
- {name: config, mountPath: /etc/qsmon, readOnly: true}
- {name: tmp, mountPath: /tmp}
{{- end -}}

{{/* Liveness on /healthz, readiness on /readyz, both on the service's port. */}}
{{- define "qsmon.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: {{ . }}}
  initialDelaySeconds: 20
  periodSeconds: 15
  timeoutSeconds: 10
  failureThreshold: 4
readinessProbe:
  httpGet: {path: /readyz, port: {{ . }}}
  periodSeconds: 10
  timeoutSeconds: 10
  failureThreshold: 3
{{- end -}}

{{- define "qsmon.configData" -}}
qsmon.yml: |
  {{- toYaml .Values.settings | nindent 2 }}
{{- if .Values.channels }}
channels.yml: |
  {{- toYaml .Values.channels | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Secrets whose keys become environment variables: channel secrets (secret_env), SMTP passwords. */}}
{{- define "qsmon.envFrom" -}}
{{- with .Values.envFromSecrets }}
envFrom:
{{- range . }}
  - secretRef: {name: {{ . }}}
{{- end }}
{{- end }}
{{- end -}}
