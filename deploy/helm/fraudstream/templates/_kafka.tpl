{{/*
Kafka security. Every role authenticates as its own user, whose ACLs (streams/core/access.py)
reach its own topics only: the scorer (scorer.kafkaSasl, scorer.kafkaClientCertSecret), each
partner (partners[].kafkaSasl, partners[].kafkaClientCertSecret) and the topic Job, an admin
(topics.adminSasl, topics.adminClientCertSecret). No role falls back on another's credentials:
a Secret of the same name in another namespace would be a copy of the same user.

The helpers of one role take (dict "root" $ "role" "scorer"|"partner"|"admin" "partner" <partner>).
*/}}

{{- define "fraudstream.usesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{- define "fraudstream.usesTls" -}}
{{- if hasSuffix "SSL" .Values.kafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{- define "fraudstream.usesCa" -}}
{{- if and (include "fraudstream.usesTls" .) .Values.kafka.tls.caSecret -}}true{{- end -}}
{{- end -}}

{{/* Whether the topic Job runs: the scorer's release, unless topics.create is false. */}}
{{- define "fraudstream.runsTopicJob" -}}
{{- if and .Values.topics.create .Values.scorer.enabled -}}true{{- end -}}
{{- end -}}

{{/* A role's own SASL values, the key names defaulting to kafka.sasl's. */}}
{{- define "fraudstream.sasl" -}}
{{- $v := .root.Values -}}
{{- $own := dict -}}
{{- if eq .role "scorer" -}}{{- $own = $v.scorer.kafkaSasl -}}
{{- else if eq .role "admin" -}}{{- $own = $v.topics.adminSasl -}}
{{- else -}}{{- $own = .partner.kafkaSasl -}}
{{- end -}}
{{- $sasl := dict "existingSecret" "" "usernameKey" $v.kafka.sasl.usernameKey "passwordKey" $v.kafka.sasl.passwordKey -}}
{{- toYaml (mergeOverwrite $sasl (deepCopy (default dict $own))) -}}
{{- end -}}

{{/*
A role's own client certificate Secret (mutual TLS), with an SSL protocol only; "" when it has
none (a missing value would be "<no value>" inside include, which is not empty).
*/}}
{{- define "fraudstream.clientCert" -}}
{{- if include "fraudstream.usesTls" .root -}}
{{- if eq .role "scorer" -}}{{- .root.Values.scorer.kafkaClientCertSecret | default "" -}}
{{- else if eq .role "admin" -}}{{- .root.Values.topics.adminClientCertSecret | default "" -}}
{{- else -}}{{- .partner.kafkaClientCertSecret | default "" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fraudstream.clientCertDir" -}}/etc/fraudstream/kafka-client{{- end -}}

{{/* The client certificate's volume and mount, when the role has one. */}}
{{- define "fraudstream.clientCertVolume" -}}
{{- with include "fraudstream.clientCert" . -}}
- name: kafka-client
  secret:
    secretName: {{ . | quote }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- end }}
{{- end -}}

{{- define "fraudstream.clientCertMount" -}}
{{- if include "fraudstream.clientCert" . -}}
- name: kafka-client
  mountPath: {{ include "fraudstream.clientCertDir" .root }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The role's SASL user and password, from its own existing Secret, never from values. */}}
{{- define "fraudstream.secretEnv" -}}
{{- if include "fraudstream.usesSasl" .root }}
{{- $sasl := include "fraudstream.sasl" . | fromYaml }}
- name: FRAUD_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $sasl.existingSecret | quote }}
      key: {{ $sasl.usernameKey | quote }}
- name: FRAUD_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $sasl.existingSecret | quote }}
      key: {{ $sasl.passwordKey | quote }}
{{- end }}
{{- end -}}

{{/*
Refuse a release whose pods would not each authenticate as their own user: an insecure protocol
(unless kafka.allowInsecure), a role without its own SASL Secret or client certificate, the
admin's credentials shared with the scorer. See docs/deploy.md, "Kafka security".
*/}}
{{- define "fraudstream.checkKafka" -}}
{{- $v := .Values -}}
{{- $protocol := $v.kafka.securityProtocol -}}
{{- if and (has $protocol (list "PLAINTEXT" "SASL_PLAINTEXT")) (not $v.kafka.allowInsecure) -}}
{{- fail (printf "kafka.securityProtocol %s is refused: it sends every record, plaintext transactions and scores included, in the clear (and with SASL_PLAINTEXT every password; with PLAINTEXT no client proves who it is, so no ACL can keep a partner from another's topics). Use SASL_SSL (each role its own SCRAM user) or SSL (each role its own client certificate), or set kafka.allowInsecure: true for a local test cluster" $protocol) -}}
{{- end -}}
{{- include "fraudstream.checkStrimzi" . -}}
{{- $roles := list -}}
{{- if $v.scorer.enabled -}}
{{- $roles = append $roles (dict "root" $ "role" "scorer" "who" "the scorer" "ns" (include "fraudstream.scorerNamespace" .) "sasl" "scorer.kafkaSasl.existingSecret" "cert" "scorer.kafkaClientCertSecret") -}}
{{- end -}}
{{- if include "fraudstream.runsTopicJob" . -}}
{{- $roles = append $roles (dict "root" $ "role" "admin" "who" "the topic Job (the admin, who creates topics)" "ns" (include "fraudstream.scorerNamespace" .) "sasl" "topics.adminSasl.existingSecret" "cert" "topics.adminClientCertSecret") -}}
{{- end -}}
{{- range $i, $p := $v.partners -}}
{{- $roles = append $roles (dict "root" $ "role" "partner" "partner" $p "who" (printf "partner %s" $p.name) "ns" $p.namespace "sasl" (printf "partners[%d].kafkaSasl.existingSecret" $i) "cert" (printf "partners[%d].kafkaClientCertSecret" $i)) -}}
{{- end -}}
{{- $why := "every role authenticates as its own user, whose ACLs (streams/core/access.py) reach its own topics only: a user shared with another role would let one read the other's topics" -}}
{{- range $roles -}}
{{- if include "fraudstream.usesSasl" $ -}}
{{- if not (include "fraudstream.sasl" . | fromYaml).existingSecret -}}
{{- fail (printf "%s has no Kafka user of its own: set %s to an existing Secret of namespace %s holding its own SASL user name and password (%s)" .who .sasl .ns $why) -}}
{{- end -}}
{{- else if eq $protocol "SSL" -}}
{{- if not (include "fraudstream.clientCert" .) -}}
{{- fail (printf "%s has no client certificate of its own: set %s to an existing kubernetes.io/tls Secret of namespace %s (with securityProtocol SSL the certificate is the Kafka user, and %s)" .who .cert .ns $why) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if include "fraudstream.runsTopicJob" . -}}
{{- $scorerSasl := (include "fraudstream.sasl" (dict "root" $ "role" "scorer") | fromYaml).existingSecret -}}
{{- $adminSasl := (include "fraudstream.sasl" (dict "root" $ "role" "admin") | fromYaml).existingSecret -}}
{{- if and (include "fraudstream.usesSasl" .) (eq $scorerSasl $adminSasl) -}}
{{- fail (printf "topics.adminSasl.existingSecret is the scorer's Secret %s too: the topic Job runs as an admin, a super user who may create topics; the scorer must be another user, with its own ACLs only" $adminSasl) -}}
{{- end -}}
{{- $scorerCert := include "fraudstream.clientCert" (dict "root" $ "role" "scorer") -}}
{{- if and (eq $protocol "SSL") (eq $scorerCert (include "fraudstream.clientCert" (dict "root" $ "role" "admin"))) -}}
{{- fail (printf "topics.adminClientCertSecret is the scorer's certificate %s too: the topic Job runs as an admin, a super user who may create topics; the scorer must be another user, with its own ACLs only" $scorerCert) -}}
{{- end -}}
{{- end -}}
{{- end -}}
