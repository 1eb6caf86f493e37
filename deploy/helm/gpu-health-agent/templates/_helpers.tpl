{{/* Names and labels shared by every object. */}}

{{- define "gpu-health-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gpu-health-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "gpu-health-agent.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "gpu-health-agent.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gpu-health-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpu-health-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gpu-health-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gpu-health-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gpu-health-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gpu-health-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gpu-health-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "gpu-health-agent.sidecarImage" -}}
{{- if .Values.dcgm.sidecar.image.repository }}
{{- printf "%s:%s" .Values.dcgm.sidecar.image.repository (default .Chart.AppVersion .Values.dcgm.sidecar.image.tag) }}
{{- else }}
{{- include "gpu-health-agent.image" . }}
{{- end }}
{{- end }}

{{/* The DCGM address the agent dials, from dcgm.mode. */}}
{{- define "gpu-health-agent.dcgmAddress" -}}
{{- if eq .Values.dcgm.mode "sidecar" }}
{{- printf "unix://%s/hostengine.sock" (trimSuffix "/" .Values.dcgm.sidecar.socketDir) }}
{{- else if eq .Values.dcgm.mode "external" }}
{{- required "dcgm.external.address is required when dcgm.mode is external" .Values.dcgm.external.address }}
{{- end }}
{{- end }}

{{/* The host directory of an external unix-socket host engine, or "". */}}
{{- define "gpu-health-agent.dcgmExternalSocketDir" -}}
{{- if and (eq .Values.dcgm.mode "external") (hasPrefix "unix://" .Values.dcgm.external.address) }}
{{- dir (trimPrefix "unix://" .Values.dcgm.external.address) }}
{{- end }}
{{- end }}

{{/* --gpu-backend: explicit value, else dcgm when a host engine is configured, else nvml or none. */}}
{{- define "gpu-health-agent.gpuBackend" -}}
{{- if .Values.gpuBackend }}
{{- .Values.gpuBackend }}
{{- else if ne .Values.dcgm.mode "none" }}
{{- "dcgm" }}
{{- else if .Values.nvml.enabled }}
{{- "nvml" }}
{{- else }}
{{- "none" }}
{{- end }}
{{- end }}

{{/*
An exec probe that asks the loopback-only debug server for a path. kubelet's
httpGet probes dial the pod IP (the node's address under hostNetwork), which a
127.0.0.1 listener never sees, and Pod Security "baseline" (1.34+) forbids
probe `host`. bash's /dev/tcp and `read` are builtins: no process besides bash
starts inside the container's memory cgroup (a `node -e fetch(...)` probe
would add ~40 MiB there) and nothing is written to the read-only root.
*/}}
{{- define "gpu-health-agent.probeCommand" -}}
- /bin/bash
- -c
- >-
  exec 3<>/dev/tcp/127.0.0.1/{{ .port }} &&
  printf 'GET {{ .path }} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
  read -r -t 5 _ code _ <&3 &&
  [ "$code" = 200 ]
{{- end }}

{{/*
  A counter that rose within the window. increase() needs two samples, so a
  series born with a non-zero value (the first refusal, a gap counted at start)
  is caught by "exists now, did not a window ago".
*/}}
{{- define "gpu-health-agent.roseWithin" -}}
(increase({{ .m }}[{{ .w }}]) > 0) or ({{ .m }} > 0 unless {{ .m }} offset {{ .w }})
{{- end }}
