#!/usr/bin/env bash
# Runs a real single-node Apache Kafka 4.x broker (KRaft mode, combined broker+controller) bound to
# 127.0.0.1, for tests. Jars are the runtime closure of org.apache.kafka:kafka_2.13 from Maven
# Central (pinned, SHA-1 checked; list generated from scripts/kafka/pom.xml), cached with the
# compiled launcher under ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/kafka (~44 MB, downloaded once).
#
# Usage: scripts/start-kafka.sh [--prepare] [dataDir] [port] [controllerPort]
#   --prepare       only download + compile, then exit (for CI warm-up)
#   dataDir         log dir + server.properties (default: a new temp dir, removed by the caller)
#   port            broker (PLAINTEXT) port, 0 = any free port (default 0)
#   controllerPort  KRaft controller port, 0 = any free port (default 0)
# Prints "KAFKA 127.0.0.1:<port>" when the broker accepts connections, then runs until stdin
# reaches EOF or it is signalled (the JVM itself watches stdin: no orphan broker).
# Needs: curl, Java 17 JDK (javac), flock, node (to pick free ports).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/kafka"
# shellcheck source=lib/fetch.sh
. "$ROOT/scripts/lib/fetch.sh"
KAFKA=4.3.2

# sha1  path-in-repository  (mvn -f scripts/kafka/pom.xml dependency:list -DincludeScope=runtime)
JARS="
a27ccbac6c886771d3db36f91b144950bdb5082a at/yawk/lz4/lz4-java/1.11.4/lz4-java-1.11.4.jar
2d61bfb5b38469cb76141b06dc68d36a9007e9ad com/dynatrace/hash4j/hash4j/0.22.0/hash4j-0.22.0.jar
b1bc1868bf02dc0bd6c7836257a036a331005309 com/fasterxml/jackson/core/jackson-annotations/2.21/jackson-annotations-2.21.jar
5abfb904683e642f4a5458f2a78ab9308c7c5a46 com/fasterxml/jackson/core/jackson-core/2.21.7/jackson-core-2.21.7.jar
a2ebbc72e3092323f0f3defa786ff3bb0c47218c com/fasterxml/jackson/core/jackson-databind/2.21.7/jackson-databind-2.21.7.jar
ece8680f36c94ea55b7f58e57ae7f91b319f4767 com/fasterxml/jackson/dataformat/jackson-dataformat-csv/2.21.7/jackson-dataformat-csv-2.21.7.jar
cd755d8f2c860e887301b47140f60ab58b3eb538 com/fasterxml/jackson/dataformat/jackson-dataformat-yaml/2.21.7/jackson-dataformat-yaml-2.21.7.jar
83f1c3c394b531496917e86e886aa00ac5cecc63 com/fasterxml/jackson/datatype/jackson-datatype-jdk8/2.21.7/jackson-datatype-jdk8-2.21.7.jar
35eba09997476a39492ac7f7b2bb0e8292c09d17 com/github/ben-manes/caffeine/caffeine/3.2.0/caffeine-3.2.0.jar
7e146ecb598af55d1f64d1c118af27569a848558 com/github/luben/zstd-jni/1.5.6-10/zstd-jni-1.5.6-10.jar
12c25e923e9e4fb1575a7640a2698745c6f19a94 com/google/re2j/re2j/1.8/re2j-1.8.jar
f887ff84d87e3e9c89e28f8a4064bf74d1eacbb4 com/typesafe/scala-logging/scala-logging_2.13/3.9.6/scala-logging_2.13-3.9.6.jar
f82c035cfa786d3cbec362c38c22a5f5b1bc8724 com/yammer/metrics/metrics-core/2.2.0/metrics-core-2.2.0.jar
ac03ea606d13de04c2e4508227680faff151f491 commons-beanutils/commons-beanutils/1.11.0/commons-beanutils-1.11.0.jar
8ad72fe39fa8c91eaaf12aadb21e0c3661fe26d5 commons-collections/commons-collections/3.2.2/commons-collections-3.2.2.jar
73a8001e7a54a255eef0f03521ec1805dc738ca0 commons-digester/commons-digester/2.1/commons-digester-2.1.jar
a3fcc5d3c29b2b03433aa2d2f2d2c1b1638924a1 commons-logging/commons-logging/1.3.5/commons-logging-1.3.5.jar
cdf5c2a69aad509c4db54786f19f1e1ccc471bcf commons-validator/commons-validator/1.10.1/commons-validator-1.10.1.jar
4fdac2fbe92dfad86aa6e9301736f6b4342a3f5c net/sf/jopt-simple/jopt-simple/5.0.4/jopt-simple-5.0.4.jar
6f0621d0c3888de39e0f06d01f37ba53a798e657 net/sourceforge/argparse4j/argparse4j/0.7.0/argparse4j-0.7.0.jar
a5b3effc23010c8a81707599476bcce49de2f04f org/apache/kafka/kafka-clients/$KAFKA/kafka-clients-$KAFKA.jar
0001135ffca750ec0e530e6191605ce4eae41338 org/apache/kafka/kafka-coordinator-common/$KAFKA/kafka-coordinator-common-$KAFKA.jar
69d71b1bdc42bb60847cbe1a898faf9ed636d9b5 org/apache/kafka/kafka-group-coordinator-api/$KAFKA/kafka-group-coordinator-api-$KAFKA.jar
a85182677c5c6bf0ee9f0727ee6eff341bae74d9 org/apache/kafka/kafka-group-coordinator/$KAFKA/kafka-group-coordinator-$KAFKA.jar
4ee4476fecfb9d1b6ba20a8c99d7a48f20e703f0 org/apache/kafka/kafka-metadata/$KAFKA/kafka-metadata-$KAFKA.jar
b79b37b5a243d696b9ae5fff5784dfcc23c05ed7 org/apache/kafka/kafka-raft/$KAFKA/kafka-raft-$KAFKA.jar
3129e0e0371aa6c8126eaa021724b5566b467468 org/apache/kafka/kafka-server-common/$KAFKA/kafka-server-common-$KAFKA.jar
a10da48eb1bfe4284d52c923c04e3dc61d2262cd org/apache/kafka/kafka-server/$KAFKA/kafka-server-$KAFKA.jar
94767811171f00b82035483a8801fdaafd905439 org/apache/kafka/kafka-share-coordinator/$KAFKA/kafka-share-coordinator-$KAFKA.jar
4188ef8434ffb5ba86539059012652455e1e183b org/apache/kafka/kafka-storage-api/$KAFKA/kafka-storage-api-$KAFKA.jar
3b9dc1b1612c89533252bd86b1907229a4fc4b9d org/apache/kafka/kafka-storage/$KAFKA/kafka-storage-$KAFKA.jar
cdacf312c575906089a2c58330a35c21b8651a21 org/apache/kafka/kafka-tools-api/$KAFKA/kafka-tools-api-$KAFKA.jar
8b7370ed6e110b204c2d4a81e59c867685539196 org/apache/kafka/kafka-transaction-coordinator/$KAFKA/kafka-transaction-coordinator-$KAFKA.jar
20f47d03f21d2030cf9ff62747820c724a4ca054 org/apache/kafka/kafka_2.13/$KAFKA/kafka_2.13-$KAFKA.jar
6c80ea65e41f7858f7e15cb390c98c36167c7b3a org/apache/logging/log4j/log4j-api/2.25.5/log4j-api-2.25.5.jar
c194a13e18b0a36014e867d2d323b989bf212151 org/apache/logging/log4j/log4j-core/2.25.5/log4j-core-2.25.5.jar
542f388168432b2dfce12edde0d99c01649c4873 org/apache/logging/log4j/log4j-slf4j-impl/2.25.5/log4j-slf4j-impl-2.25.5.jar
357a3836bb5da16f314f3a1e954518e5468cd915 org/bitbucket/b_c/jose4j/0.9.6/jose4j-0.9.6.jar
7959933ebcc0f05b2eaa5af0a0c8689fa257b15c org/hdrhistogram/HdrHistogram/2.2.2/HdrHistogram-2.2.2.jar
7425a601c1c7ec76645a78d22b8c6a627edee507 org/jspecify/jspecify/1.0.0/jspecify-1.0.0.jar
c8398b4443deae11e6eaffbc04a371b4eb8f6b8e org/pcollections/pcollections/4.0.2/pcollections-4.0.2.jar
eb2086988c25b08705472cc750654570900362e5 org/scala-lang/scala-library/2.13.18/scala-library-2.13.18.jar
674f3bd39f5c528d575da69c42a5dff772b9b75c org/scala-lang/scala-reflect/2.13.18/scala-reflect-2.13.18.jar
6c62681a2f655b49963a5983b8b0950a6120ae14 org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar
e633edcf90b86efb17bab87da6ea517933683a88 org/xerial/snappy/snappy-java/1.1.10.11/snappy-java-1.1.10.11.jar
2d53ddec134280cb384c1e35d094e5f71c1f2316 org/yaml/snakeyaml/2.5/snakeyaml-2.5.jar
"

PREPARE=0
if [ "${1:-}" = "--prepare" ]; then PREPARE=1; shift; fi

prepare() {
  mkdir -p "$CACHE/jars"
  exec 9>"$CACHE/.lock"
  flock 9
  fetch_maven_jars "$CACHE/jars" start-kafka.sh <<< "$JARS"
  # Compile the launcher; the class dir is keyed by the source hash.
  local src="$ROOT/scripts/kafka/KafkaBroker.java"
  local key; key="$(cat "$src" <(echo "$KAFKA") | sha1sum | cut -c1-12)"
  CLASSES="$CACHE/classes-$key"
  if [ ! -f "$CLASSES/KafkaBroker.class" ]; then
    rm -rf "$CLASSES.tmp"; mkdir -p "$CLASSES.tmp"
    javac -nowarn -cp "$CACHE/jars/*" -d "$CLASSES.tmp" "$src"
    rm -rf "$CLASSES"; mv "$CLASSES.tmp" "$CLASSES"
  fi
  exec 9>&-
}

prepare
[ "$PREPARE" = 1 ] && exit 0

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

DATA="${1:-}"
PORT="${2:-0}"
CPORT="${3:-0}"
if [ -z "$DATA" ]; then DATA="$(mktemp -d -t lakehouse-kafka.XXXXXX)"; fi
[ "$PORT" = 0 ] && PORT="$(free_port)"
[ "$CPORT" = 0 ] && CPORT="$(free_port)"
mkdir -p "$DATA/logs"
# A Kafka Uuid (16 random bytes, URL-safe base64); a leading '-' would read as an option.
CLUSTER_ID="-"
while [ "${CLUSTER_ID:0:1}" = "-" ]; do CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done

cat > "$DATA/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/logs
num.partitions=4
num.network.threads=2
num.io.threads=2
background.threads=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
log.segment.bytes=104857600
log.retention.hours=-1
PROPS

exec java -Xms256m -Xmx768m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.net.preferIPv4Stack=true \
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
  -cp "$CLASSES:$CACHE/jars/*" KafkaBroker "$DATA/server.properties" "$DATA/logs" "$CLUSTER_ID" "$PORT"
