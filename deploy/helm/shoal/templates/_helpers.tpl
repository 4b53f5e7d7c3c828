{{/* Labels of every object. */}}
{{- define "shoal.labels" -}}
app.kubernetes.io/name: shoal
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The scheduler's address for peers. */}}
{{- define "shoal.schedulerAddress" -}}
{{ printf "/dns4/%s-scheduler.%s.svc.%s/tcp/%v" .Release.Name .Release.Namespace .Values.clusterDomain .Values.scheduler.p2pPort }}
{{- end -}}

{{/* Name of the Secret holding swarm.key. */}}
{{- define "shoal.pskSecret" -}}
{{ if .Values.psk.create }}{{ printf "%s-psk" .Release.Name }}{{ else }}{{ .Values.psk.existingSecret }}{{ end }}
{{- end -}}
