#!/usr/bin/env bash
# Runs a real Confluent-compatible schema registry on 127.0.0.1 for tests: Apicurio Registry
# (Quarkus, Java 17) with in-memory H2 storage, whose Confluent API lives under /apis/ccompat/v7.
# Why Apicurio 2.4.2: Confluent's own registry is not on Maven Central and Karapace is not on PyPI;
# Apicurio 3.x needs Java 21 and newer 2.x releases depend on artifacts Maven Central does not serve.
# Maven Central publishes the registry as a plain (non-augmented) jar, so the one-time --prepare
# step lets the Quarkus Maven plugin package it (unpacked as the application, dependencies from its
# POM) into ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/schema-registry (~130 MB; build needs ~250 MB of
# Maven downloads, removed afterwards).
#
# Usage: scripts/start-schema-registry.sh [--prepare] [port]
#   --prepare   only build (for CI warm-up), then exit
#   port        HTTP port, 0 = any free port (default 0)
# Prints "SCHEMA_REGISTRY http://127.0.0.1:<port>/apis/ccompat/v7" once the API answers, then
# runs until stdin reaches EOF or it is signalled (no orphan JVM).
# Needs: Java 17 (java), Maven (mvn), curl, flock, node (to pick a free port).
set -euo pipefail
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/schema-registry"
MAVEN="${MAVEN_CENTRAL_URL:-https://repo1.maven.org/maven2}"
APICURIO=2.4.2.Final
QUARKUS=2.16.4.Final   # the version apicurio-registry 2.4.2.Final was built with

PREPARE=0
if [ "${1:-}" = "--prepare" ]; then PREPARE=1; shift; fi

# The packaging project. Substitutions, each for an artifact Maven Central does not serve:
# everit json-schema is published there as com.github.erosb (same classes); the config-index
# Quarkus extension only has its -deployment half at 0.1.10.Final.
POM="$(cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lakehouse.test</groupId>
  <artifactId>schema-registry-peer</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-common-app-components-config-index</artifactId>
        <version>0.1.10.Final</version>
      </dependency>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-common-app-components-config-index-deployment</artifactId>
        <version>0.1.10.Final</version>
      </dependency>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-registry</artifactId>
        <version>$APICURIO</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>$APICURIO</version>
      <type>pom</type>
      <exclusions>
        <exclusion>
          <groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>com.github.erosb</groupId>
      <artifactId>everit-json-schema</artifactId>
      <version>1.14.2</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <executions>
          <execution>
            <id>unpack-app</id>
            <phase>process-classes</phase>
            <goals><goal>unpack</goal></goals>
            <configuration>
              <artifactItems>
                <artifactItem>
                  <groupId>io.apicurio</groupId>
                  <artifactId>apicurio-registry-app</artifactId>
                  <version>$APICURIO</version>
                  <type>jar</type>
                  <outputDirectory>\${project.build.outputDirectory}</outputDirectory>
                  <excludes>META-INF/MANIFEST.MF</excludes>
                </artifactItem>
              </artifactItems>
            </configuration>
          </execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>$QUARKUS</version>
        <executions>
          <execution>
            <goals><goal>build</goal></goals>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
)"
# Every repository a POM names (Confluent's, JitPack) is routed to Maven Central.
SETTINGS="<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>$MAVEN</url></mirror></mirrors></settings>"

KEY="$(printf '%s\n%s\n' "$POM" "$SETTINGS" | sha1sum | cut -c1-12)"
APP="$CACHE/app-$KEY"
RUNNER="$APP/schema-registry-peer-1-runner.jar"

prepare() {
  [ -f "$RUNNER" ] && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$RUNNER" ]; then
    echo "start-schema-registry.sh: packaging Apicurio Registry $APICURIO (one-time, a few minutes)" >&2
    local work="$CACHE/build"
    rm -rf "$work"; mkdir -p "$work"
    printf '%s\n' "$POM" > "$work/pom.xml"
    printf '%s\n' "$SETTINGS" > "$work/settings.xml"
    if ! (cd "$work" && mvn -B -q -s settings.xml -Dmaven.repo.local="$CACHE/m2" package -DskipTests >build.log 2>&1); then
      tail -40 "$work/build.log" >&2
      echo "start-schema-registry.sh: packaging failed (log: $work/build.log)" >&2
      exit 1
    fi
    rm -rf "$APP.tmp"; mkdir -p "$APP.tmp"
    mv "$work/target/schema-registry-peer-1-runner.jar" "$work/target/lib" "$APP.tmp/"
    rm -rf "$APP"; mv "$APP.tmp" "$APP"
    # The Maven repository and build tree are only needed to package.
    rm -rf "$work" "$CACHE/m2"
  fi
  exec 9>&-
}

prepare
[ "$PREPARE" = 1 ] && exit 0

PORT="${1:-0}"
if [ "$PORT" = 0 ]; then
  PORT="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
fi

java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
  -Djava.net.preferIPv4Stack=true -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
  -Dquarkus.datasource.jdbc.min-size=1 -Dquarkus.datasource.jdbc.initial-size=1 \
  -Dquarkus.datasource.jdbc.max-size=8 -Dquarkus.log.level=WARN \
  -jar "$RUNNER" &
JPID=$!
trap 'kill "$JPID" 2>/dev/null || true; wait "$JPID" 2>/dev/null || true; exit 0' TERM INT HUP
URL="http://127.0.0.1:$PORT/apis/ccompat/v7"
until curl -fs -o /dev/null "$URL/subjects"; do
  kill -0 "$JPID" 2>/dev/null || { echo "start-schema-registry.sh: registry exited" >&2; wait "$JPID"; exit 1; }
  sleep 0.3
done
echo "SCHEMA_REGISTRY $URL"
# Stdin EOF (the parent went away) stops the registry. Bash gives background jobs /dev/null as
# stdin, so the watcher reads a saved copy of ours.
exec 3<&0
( cat <&3 >/dev/null; kill "$JPID" 2>/dev/null ) &
wait "$JPID"
