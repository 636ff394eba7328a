{{/* Chart name, overridable with nameOverride. */}}
{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource-name prefix: the release name, plus the chart name unless the release name contains it. */}}
{{- define "switchboard.fullname" -}}
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

{{/* Name of the operator's objects. */}}
{{- define "switchboard.operatorName" -}}
{{- printf "%s-operator" (include "switchboard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object the chart creates, without a component. */}}
{{- define "switchboard.commonLabels" -}}
helm.sh/chart: {{ include "switchboard.chart" . }}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels on the operator's objects. */}}
{{- define "switchboard.labels" -}}
{{ include "switchboard.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels that select the operator pods; never change them in an upgrade (selectors are immutable). */}}
{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The selector labels as the manager's --operator-pod-labels value (k=v,k=v). */}}
{{- define "switchboard.selectorLabelsFlag" -}}
app.kubernetes.io/name={{ include "switchboard.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=operator
{{- end }}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespace the operator watches in namespace mode. */}}
{{- define "switchboard.watchNamespace" -}}
{{- default .Release.Namespace .Values.scope.namespace }}
{{- end }}

{{/* Namespace of the SignalingCluster created with the release: one the operator watches. */}}
{{- define "switchboard.signalingClusterNamespace" -}}
{{- if eq .Values.scope.mode "namespace" }}
{{- include "switchboard.watchNamespace" . }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "switchboard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "switchboard.signalingImage" -}}
{{- printf "%s:%s" .Values.operator.signalingImage.repository (default .Chart.AppVersion .Values.operator.signalingImage.tag) }}
{{- end }}

{{/*
The manager's RBAC rules, read from files/rbac/role.yaml: a byte-for-byte copy of the
controller-gen output config/rbac/role.yaml (`make chart-sync`; a test fails when they differ).
*/}}
{{- define "switchboard.managerRules" -}}
{{- $role := .Files.Get "files/rbac/role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/rbac/role.yaml has no rules: run make chart-sync" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/* Leader-election rules, from files/rbac/leader_election_role.yaml (copy of config/rbac). */}}
{{- define "switchboard.leaderElectionRules" -}}
{{- $role := .Files.Get "files/rbac/leader_election_role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/rbac/leader_election_role.yaml has no rules: run make chart-sync" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/* Cross-field checks that values.schema.json cannot express with a clear message. */}}
{{- define "switchboard.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without it every replica reconciles and probes at once" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled=true needs metrics.enabled=true" }}
{{- end }}
{{- if and (ne .Values.scope.mode "namespace") .Values.scope.namespace }}
{{- fail "scope.namespace is only used with scope.mode=namespace" }}
{{- end }}
{{- if .Values.signalingCluster.enabled }}
{{- $auth := .Values.signalingCluster.spec.auth | default dict }}
{{- if and (not .Values.signalingCluster.jwtPublicKey) (not $auth.publicKeySecretRef) (not $auth.jwksURL) }}
{{- fail "signalingCluster.enabled=true needs a token key: --set-file signalingCluster.jwtPublicKey=public.pem, or signalingCluster.spec.auth.publicKeySecretRef / jwksURL" }}
{{- end }}
{{- if and .Values.signalingCluster.jwtPublicKey (not (contains "-----BEGIN" .Values.signalingCluster.jwtPublicKey)) }}
{{- fail "signalingCluster.jwtPublicKey must be a PEM block (-----BEGIN PUBLIC KEY----- …)" }}
{{- end }}
{{- end }}
{{- end }}
