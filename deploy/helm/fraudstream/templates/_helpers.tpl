{{/*
Names, labels and the one place where values become FRAUD_* settings.
*/}}

{{/* The prefix of every resource name: fullnameOverride, else the release's name (with
nameOverride after it when given), cut to leave room for "-partner-<id>". */}}
{{- define "fraudstream.name" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if .Values.nameOverride -}}
{{- printf "%s-%s" .Release.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The app.kubernetes.io/name label: nameOverride, else fraudstream. */}}
{{- define "fraudstream.appName" -}}
{{- default "fraudstream" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* repository@digest when a digest is given (the tag is then ignored), else repository:tag. */}}
{{- define "fraudstream.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* A pod template's labels and annotations, with podLabels and podAnnotations; call with the
labels context and the pod's own annotations: (dict "ctx" $ctx "annotations" (dict ...)). */}}
{{- define "fraudstream.podMetadata" -}}
{{- $root := .ctx.root -}}
{{- $labels := merge (include "fraudstream.labels" .ctx | fromYaml) (deepCopy $root.Values.podLabels) }}
labels: {{- toYaml $labels | nindent 2 }}
{{- $annotations := merge (deepCopy (default (dict) .annotations)) (deepCopy $root.Values.podAnnotations) }}
{{- with $annotations }}
annotations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "fraudstream.scorerNamespace" -}}
{{- default .Release.Namespace .Values.scorer.namespace -}}
{{- end -}}

{{/* Common labels; call with (dict "root" $ "component" "scorer"). */}}
{{- define "fraudstream.labels" -}}
{{ include "fraudstream.selectorLabels" . }}
app.kubernetes.io/part-of: fraudstream
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "fraudstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fraudstream.appName" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A partner's values over partnerDefaults; call with (dict "root" $ "partner" .). */}}
{{- define "fraudstream.partner" -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.partnerDefaults) (deepCopy .partner) -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "fraudstream.keyRoot" -}}/var/run/fraudstream/keys{{- end -}}

{{/*
Every FRAUD_* setting that is not a secret, for one role: (dict "root" $ "role" "scorer"),
(dict "root" $ "role" "partner" "partner" <merged partner>) or (dict "root" $ "role" "admin") for
the topic Job. Each role gets only the variables of its settings type (streams.core.settings:
ScorerSettings, PartnerSettings). Rendered into that workload's ConfigMap (and into the topic
Job's env, which runs before any ConfigMap exists).
*/}}
{{- define "fraudstream.settings" -}}
{{- $v := .root.Values -}}
FRAUD_BROKER: {{ required "kafka.bootstrapServers is required: the brokers' host:port list" $v.kafka.bootstrapServers | quote }}
FRAUD_SECURITY_PROTOCOL: {{ $v.kafka.securityProtocol | quote }}
FRAUD_CONNECT_TIMEOUT_S: {{ $v.kafka.connectTimeout | toString | quote }}
{{- if include "fraudstream.usesSasl" .root }}
FRAUD_SASL_MECHANISM: {{ $v.kafka.sasl.mechanism | quote }}
{{- end }}
{{- if include "fraudstream.usesCa" .root }}
FRAUD_SSL_CAFILE: {{ printf "/etc/fraudstream/kafka-ca/%s" $v.kafka.tls.caKey | quote }}
{{- end }}
{{- if include "fraudstream.clientCert" . }}
FRAUD_SSL_CERTFILE: {{ printf "%s/tls.crt" (include "fraudstream.clientCertDir" .root) | quote }}
FRAUD_SSL_KEYFILE: {{ printf "%s/tls.key" (include "fraudstream.clientCertDir" .root) | quote }}
{{- end }}
FRAUD_TOPIC_ROOT: {{ $v.topics.root | quote }}
FRAUD_TOPIC_PARTITIONS: {{ $v.topics.partitions | quote }}
FRAUD_TOPIC_REPLICATION: {{ $v.topics.replication | quote }}
FRAUD_MAX_MESSAGE_BYTES: {{ $v.topics.maxMessageBytes | int64 | quote }}
FRAUD_PARTNERS: {{ include "fraudstream.partnerNames" .root | quote }}
FRAUD_APP_ID: {{ $v.appId | quote }}
FRAUD_DATA_DIR: "/var/lib/fraudstream/state"
FRAUD_SESSION_TIMEOUT: {{ $v.sessionTimeout | toString | quote }}
FRAUD_STUCK_AFTER: {{ $v.stuckAfter | toString | quote }}
FRAUD_WEB_HOST: "0.0.0.0"
FRAUD_WEB_PORT: {{ $v.webPort | quote }}
FRAUD_LOG_LEVEL: {{ $v.logLevel | quote }}
FRAUD_MODEL_DIR: "/app/model"
FRAUD_OTHER_MODEL_DIRS: {{ join "," $v.otherModelDirs | quote }}
{{- if eq .role "scorer" }}
FRAUD_KEY_WAIT: {{ $v.scorer.keyWait | toString | quote }}
FRAUD_FHE_TIMEOUT: {{ $v.scorer.fheTimeout | toString | quote }}
FRAUD_SCORER_PROCESSES: {{ $v.scorer.processes | quote }}
FRAUD_SCORER_THREADS: {{ $v.scorer.threads | quote }}
FRAUD_SCORER_KEY_FILE: {{ printf "/etc/fraudstream/scorer-key/%s" $v.scorer.signingKey.key | quote }}
FRAUD_REQUEST_MAX_AGE: {{ $v.scorer.requestMaxAge | toString | quote }}
{{- else if eq .role "partner" }}
FRAUD_MAX_EVENT_BYTES: {{ $v.limits.maxEventBytes | int64 | quote }}
FRAUD_MAX_AMOUNT: {{ $v.limits.maxAmount | toString | quote }}
FRAUD_MAX_CLOCK_SKEW: {{ $v.limits.maxClockSkew | toString | quote }}
FRAUD_SCORER_PUBLIC_KEYS: {{ join "," $v.scorer.publicKeys | quote }}
FRAUD_JOIN_TTL: {{ .partner.joinTtl | toString | quote }}
FRAUD_AGGREGATOR: {{ $v.federation.aggregator | quote }}
{{- if $v.federation.membersConfigMap }}
FRAUD_FEDERATION_MEMBERS: "/etc/fraudstream/federation/members.json"
{{- end }}
FRAUD_KEY_DIR: {{ printf "%s/current" (include "fraudstream.keyRoot" .root) | quote }}
{{- $previous := list }}
{{- range $i, $_ := .partner.previousKeySeedSecrets }}
{{- $previous = append $previous (printf "%s/previous-%d" (include "fraudstream.keyRoot" $.root) $i) }}
{{- end }}
FRAUD_PREVIOUS_KEY_DIRS: {{ join "," $previous | quote }}
{{- if .partner.shadowKeySeedSecret }}
FRAUD_SHADOW_KEY_DIR: {{ printf "%s/shadow" (include "fraudstream.keyRoot" .root) | quote }}
{{- end }}
{{- if not (kindIs "invalid" .partner.threshold) }}
FRAUD_THRESHOLD: {{ .partner.threshold | toString | quote }}
{{- end }}
{{- if $v.alertsPage.enabled }}
FRAUD_ALERTS_PAGE_PORT: {{ $v.alertsPage.port | quote }}
{{- /* Loopback (port-forward only) unless peers may reach it, and then only behind a policy. */}}
{{- if $v.alertsPage.allowFrom }}
{{- if not $v.networkPolicy.enabled }}
{{- fail "alertsPage.allowFrom needs networkPolicy.enabled: without a NetworkPolicy every pod of the cluster would reach the page's decrypted results" }}
{{- end }}
FRAUD_ALERTS_PAGE_HOST: "0.0.0.0"
{{- else }}
FRAUD_ALERTS_PAGE_HOST: "127.0.0.1"
{{- end }}
FRAUD_ALERTS_PAGE_SCORES: {{ $v.alertsPage.scores | quote }}
FRAUD_ALERTS_PAGE_ALERTS: {{ $v.alertsPage.alerts | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "fraudstream.partnerNames" -}}
{{- include "fraudstream.allPartners" . | fromJsonArray | join "," -}}
{{- end -}}

{{/* Namespaces this release puts pods in: the scorer's (when enabled) and each partner's. */}}
{{- define "fraudstream.namespaces" -}}
{{- $namespaces := list -}}
{{- if .Values.scorer.enabled -}}{{- $namespaces = append $namespaces (include "fraudstream.scorerNamespace" .) -}}{{- end -}}
{{- range .Values.partners -}}{{- $namespaces = append $namespaces .namespace -}}{{- end -}}
{{- toJson $namespaces -}}
{{- end -}}

{{/* Threads of OpenMP (the FHE runtime) and BLAS: the container's CPU limit, not the node's cores. */}}
{{- define "fraudstream.threadEnv" -}}
{{- range list "OMP_NUM_THREADS" "OPENBLAS_NUM_THREADS" "MKL_NUM_THREADS" }}
- name: {{ . }}
  valueFrom:
    resourceFieldRef:
      resource: limits.cpu
      divisor: "1"
{{- end }}
{{- end -}}

{{- define "fraudstream.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Volumes every worker has: /tmp and, with TLS, the brokers' CA. */}}
{{- define "fraudstream.commonVolumes" -}}
- name: tmp
  emptyDir: {}
{{- if include "fraudstream.usesCa" . }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret | quote }}
    items:
      - key: {{ .Values.kafka.tls.caKey | quote }}
        path: {{ .Values.kafka.tls.caKey | quote }}
{{- end }}
{{- end -}}

{{- define "fraudstream.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "fraudstream.usesCa" . }}
- name: kafka-ca
  mountPath: /etc/fraudstream/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "fraudstream.probes" -}}
startupProbe:
  httpGet: {path: /live, port: web}
  periodSeconds: 10
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /live, port: web}
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /ready, port: web}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Refuse layouts where a pod could mount a key it must not: see docs/deploy.md. */}}
{{- define "fraudstream.checkLayout" -}}
{{- if and (not .Values.scorer.enabled) (not .Values.partners) -}}
{{- fail "nothing to deploy: scorer.enabled is false and partners is empty" -}}
{{- end -}}
{{- if and (not .Values.partners) (not .Values.externalPartners) -}}
{{- fail "no partner at all: list the partners this release deploys in partners, or those other releases deploy in externalPartners" -}}
{{- end -}}
{{- $scorerNs := include "fraudstream.scorerNamespace" . -}}
{{- $seen := dict -}}
{{- range .Values.partners -}}
{{- if and $.Values.scorer.enabled (eq .namespace $scorerNs) -}}
{{- fail (printf "partner %s is in the scorer's namespace %s: a pod can mount any Secret of its namespace, so every partner needs a namespace of its own" .name $scorerNs) -}}
{{- end -}}
{{- if hasKey $seen .namespace -}}
{{- fail (printf "partners %s and %s share the namespace %s: each partner needs its own, or one could mount the other's key" (get $seen .namespace) .name .namespace) -}}
{{- end -}}
{{- $_ := set $seen .namespace .name -}}
{{- end -}}
{{- range .Values.externalPartners -}}
{{- $name := . -}}
{{- range $.Values.partners -}}
{{- if eq .name $name -}}
{{- fail (printf "partner %s is both in partners and in externalPartners" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.scorer.enabled (not .Values.scorer.signingKey.existingSecret) -}}
{{- fail "scorer.signingKey.existingSecret is required: the scorer signs every verdict (make the key with `fraudstream keys scorer <file>` and store the file in a Secret of the scorer's namespace)" -}}
{{- end -}}
{{- if and .Values.partners (not .Values.scorer.publicKeys) -}}
{{- fail "scorer.publicKeys is required: the partners decrypt only verdicts the scorer signed (`fraudstream keys scorer <file> --show` prints its public key)" -}}
{{- end -}}
{{- if and .Values.scorer.autoscaling.enabled .Values.scorer.keda.enabled -}}
{{- fail "scorer.autoscaling and scorer.keda are both enabled: choose one (KEDA makes its own HorizontalPodAutoscaler)" -}}
{{- end -}}
{{- include "fraudstream.checkKafka" . -}}
{{- end -}}
