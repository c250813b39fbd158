{{/*
Strimzi's KafkaUser and KafkaTopic resources (strimzi.enabled). A template cannot call Python, so
the ACLs of streams/core/access.py (the scorer's, the federation service's and each partner's) and
the topics of streams/core/topics.py (declared_topics, the federation's included) are written out
again here; tests/deploy/test_chart_kafka.py renders the chart and checks that they are exactly
access.all_grants(...) and declared_topics(...), for several partner sets.
*/}}

{{/* Every partner id the scorer serves: partners, then externalPartners. */}}
{{- define "fraudstream.allPartners" -}}
{{- $names := list -}}
{{- range .Values.partners -}}{{- $names = append $names .name -}}{{- end -}}
{{- range .Values.externalPartners -}}{{- $names = append $names . -}}{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
The KafkaUser (and so the SCRAM user name) of a role: (dict "root" $ "role" "scorer"|"federation"|"partner"
"partner" <id>).
*/}}
{{- define "fraudstream.kafkaUser" -}}
{{- if has .role (list "scorer" "federation") -}}
{{- printf "%s-%s" (include "fraudstream.name" .root) .role -}}
{{- else -}}
{{- printf "%s-partner-%s" (include "fraudstream.name" .root) .partner -}}
{{- end -}}
{{- end -}}

{{/* The principal Kafka sees for a KafkaUser: its name (SCRAM) or CN=<name> (Strimzi's TLS users). */}}
{{- define "fraudstream.principal" -}}
{{- if eq .root.Values.kafka.securityProtocol "SSL" -}}CN={{ end -}}{{- include "fraudstream.kafkaUser" . -}}
{{- end -}}

{{/* One ALLOW rule of a KafkaUser: (list <resource type> <name> <operation>...). */}}
{{- define "fraudstream.acl" -}}
- type: allow
  resource:
    type: {{ index . 0 }}
    name: {{ index . 1 | quote }}
    patternType: literal
  operations: {{ slice . 2 | toJson }}
  host: "*"
{{- end -}}

{{/* The scorer's grants (access.scorer_grants): (dict "root" $). */}}
{{- define "fraudstream.scorerAcls" -}}
{{- $v := .root.Values -}}
{{- $r := $v.topics.root -}}
{{- $app := printf "%s-scorer" $v.appId -}}
{{ include "fraudstream.acl" (list "topic" (printf "%s.scoring.requests.v1" $r) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.scoring.deadletter.v1" $r) "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s-__assignor-__leader" $app) "Read" "Create") }}
{{ include "fraudstream.acl" (list "group" $app "Read") }}
{{- range include "fraudstream.allPartners" .root | fromJsonArray }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.keys.v1" $r .) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.verdicts.v1" $r .) "Write") }}
{{- end }}
{{- end -}}

{{/*
The federation service's grants (access.federation_grants): the coordinator's tasks out and answers
in, the aggregator's masking keys and masked vectors in and sums out; no consumer group. (dict "root" $).
*/}}
{{- define "fraudstream.federationAcls" -}}
{{- $r := .root.Values.topics.root -}}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.answers.v1" $r) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.masking-keys.v1" $r) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.contributions.v1" $r) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.shared-counts.v1" $r) "Write") }}
{{- range include "fraudstream.allPartners" .root | fromJsonArray }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.federation-tasks.v1" $r .) "Write") }}
{{- end }}
{{- end -}}

{{/* A partner's grants (access.partner_grants): (dict "root" $ "partner" <id>). */}}
{{- define "fraudstream.partnerAcls" -}}
{{- $v := .root.Values -}}
{{- $r := $v.topics.root -}}
{{- $p := .partner -}}
{{- $app := printf "%s-partner-%s" $v.appId $p -}}
{{- range list "transactions" "labels" "validated" "pending" "scores" "alerts" "shadow-scores" "deadletter" }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.%s.v1" $r $p .) "Read" "Write") }}
{{- end }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.verdicts.v1" $r $p) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.keys.v1" $r $p) "Read" "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.scoring.requests.v1" $r) "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s-__assignor-__leader" $app) "Read" "Create") }}
{{ include "fraudstream.acl" (list "group" $app "Read") }}
{{- /* Federation (docs/federation.md): the trainer, the contributor, the gateway's sums. */}}
{{ include "fraudstream.acl" (list "topic" (printf "%s.%s.federation-tasks.v1" $r $p) "Read") }}
{{ include "fraudstream.acl" (list "group" (printf "%s-trainer-%s" $v.appId $p) "Read") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.answers.v1" $r) "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.masking-keys.v1" $r) "Read" "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.contributions.v1" $r) "Write") }}
{{ include "fraudstream.acl" (list "topic" (printf "%s.federation.shared-counts.v1" $r) "Read") }}
{{- range include "fraudstream.partnerTables" . | fromJsonArray }}
{{ include "fraudstream.acl" (list "topic" (printf "%s-%s-changelog" $app .) "Read" "Write") }}
{{- end }}
{{- end -}}

{{/* The Faust tables of a partner worker (topics.PARTNER_TABLES). */}}
{{- define "fraudstream.partnerTables" -}}
["entity_state", "verdict_join"]
{{- end -}}

{{/*
Every topic (topics.declared_topics): a JSON list of {name, partitions, config}. The configs are
written whole, never merged (Sprig's merge writes into its first argument).
*/}}
{{- define "fraudstream.topicSpecs" -}}
{{- $v := .Values -}}
{{- $r := $v.topics.root -}}
{{- $n := int $v.topics.partitions -}}
{{- $bytes := $v.topics.maxMessageBytes | int64 | toString -}}
{{- $large := dict "max.message.bytes" $bytes -}}
{{- $compact := dict "max.message.bytes" $bytes "cleanup.policy" "compact" -}}
{{- $specs := list -}}
{{- range $p := include "fraudstream.allPartners" . | fromJsonArray -}}
{{- range list "transactions" "labels" "validated" "pending" -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.%s.v1" $r $p .) "partitions" $n "config" dict) -}}
{{- end -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.verdicts.v1" $r $p) "partitions" $n "config" $large) -}}
{{- range list "scores" "alerts" "shadow-scores" -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.%s.v1" $r $p .) "partitions" $n "config" dict) -}}
{{- end -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.deadletter.v1" $r $p) "partitions" 1 "config" $large) -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.keys.v1" $r $p) "partitions" 1 "config" $compact) -}}
{{- range include "fraudstream.partnerTables" $ | fromJsonArray -}}
{{- $specs = append $specs (dict "name" (printf "%s-partner-%s-%s-changelog" $v.appId $p .) "partitions" $n "config" $compact) -}}
{{- end -}}
{{- end -}}
{{- $specs = append $specs (dict "name" (printf "%s.scoring.requests.v1" $r) "partitions" $n "config" $large) -}}
{{- $specs = append $specs (dict "name" (printf "%s.scoring.deadletter.v1" $r) "partitions" 1 "config" $large) -}}
{{- /* topics.federation_topic_specs: one partition each; retention.ms is CONTRIBUTIONS_RETENTION_MS. */ -}}
{{- range include "fraudstream.allPartners" . | fromJsonArray -}}
{{- $specs = append $specs (dict "name" (printf "%s.%s.federation-tasks.v1" $r .) "partitions" 1 "config" $large) -}}
{{- end -}}
{{- $specs = append $specs (dict "name" (printf "%s.federation.answers.v1" $r) "partitions" 1 "config" $large) -}}
{{- $specs = append $specs (dict "name" (printf "%s.federation.masking-keys.v1" $r) "partitions" 1 "config" (dict "cleanup.policy" "compact")) -}}
{{- $specs = append $specs (dict "name" (printf "%s.federation.contributions.v1" $r) "partitions" 1 "config" (dict "max.message.bytes" $bytes "retention.ms" "604800000")) -}}
{{- $specs = append $specs (dict "name" (printf "%s.federation.shared-counts.v1" $r) "partitions" 1 "config" $compact) -}}
{{- toJson $specs -}}
{{- end -}}

{{/* Refuse Strimzi settings that would not give each role its own user with its own ACLs. */}}
{{- define "fraudstream.checkStrimzi" -}}
{{- $v := .Values -}}
{{- if $v.strimzi.enabled -}}
{{- if not $v.scorer.enabled -}}
{{- fail "strimzi.enabled belongs to the scorer's release: it renders the KafkaUser of every partner (partners and externalPartners) and every KafkaTopic; leave it off in a partner's own release" -}}
{{- end -}}
{{- if $v.topics.create -}}
{{- fail "strimzi.enabled declares every topic as a KafkaTopic, which Strimzi's Topic Operator creates: set topics.create: false (the topic Job, a pre-install hook, would run before the release's KafkaUsers exist, and two owners of the topics would disagree)" -}}
{{- end -}}
{{- $protocol := $v.kafka.securityProtocol -}}
{{- if eq $protocol "PLAINTEXT" -}}
{{- fail "strimzi.enabled with kafka.securityProtocol PLAINTEXT: a KafkaUser needs an authenticated listener (SASL_SSL with SCRAM-SHA-512, or SSL with client certificates)" -}}
{{- end -}}
{{- if and (hasPrefix "SASL_" $protocol) (ne $v.kafka.sasl.mechanism "SCRAM-SHA-512") -}}
{{- fail (printf "strimzi.enabled with kafka.sasl.mechanism %s: Strimzi's KafkaUsers authenticate with SCRAM-SHA-512 (or TLS client certificates with securityProtocol SSL)" $v.kafka.sasl.mechanism) -}}
{{- end -}}
{{- $users := list -}}
{{- range list "scorer" "federation" -}}
{{- $users = append $users (include "fraudstream.principal" (dict "root" $ "role" .)) -}}
{{- end -}}
{{- range include "fraudstream.allPartners" . | fromJsonArray -}}
{{- $users = append $users (include "fraudstream.principal" (dict "root" $ "role" "partner" "partner" .)) -}}
{{- end -}}
{{- range $users -}}
{{- if gt (len .) 64 -}}
{{- fail (printf "Kafka user %s is longer than 64 characters (a certificate's common name can be no longer): shorten the release name or the partner id" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
