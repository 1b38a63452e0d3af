import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs a single-node Apache Kafka (KRaft, combined broker+controller) for tests, in one JVM:
 * formats the log dir when it has no meta.properties (kafka.tools.StorageTool), starts
 * kafka.Kafka, prints "KAFKA 127.0.0.1:<port>" once the broker listener accepts connections and
 * exits when stdin reaches EOF (so a dying parent never leaves an orphan broker).
 *
 * args: server.properties logDir clusterId port
 */
public final class KafkaBroker {
  public static void main(String[] args) throws Exception {
    String config = args[0];
    Path logDir = Path.of(args[1]);
    String clusterId = args[2];
    int port = Integer.parseInt(args[3]);

    Thread stdinWatch = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) { /* keep reading until EOF */ }
      } catch (Exception ignored) { /* treat as EOF */ }
      shutdown();
    }, "stdin-watch");
    stdinWatch.setDaemon(true);
    stdinWatch.start();

    if (!Files.exists(logDir.resolve("meta.properties"))) {
      int rc = kafka.tools.StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config}, System.err);
      if (rc != 0) {
        System.err.println("KafkaBroker: format failed with " + rc);
        Runtime.getRuntime().halt(2);
      }
    }

    Thread ready = new Thread(() -> {
      long deadline = System.currentTimeMillis() + 300_000;
      while (System.currentTimeMillis() < deadline) {
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 500);
          System.out.println("KAFKA 127.0.0.1:" + port);
          System.out.flush();
          return;
        } catch (Exception e) {
          try { Thread.sleep(100); } catch (InterruptedException ie) { return; }
        }
      }
    }, "ready-probe");
    ready.setDaemon(true);
    ready.start();

    kafka.Kafka.main(new String[] {config});
  }

  private static void shutdown() {
    // Graceful shutdown through Kafka's hook, but never longer than 5 s.
    Thread halt = new Thread(() -> {
      try { Thread.sleep(5_000); } catch (InterruptedException ignored) { }
      Runtime.getRuntime().halt(0);
    }, "halt-timer");
    halt.setDaemon(true);
    halt.start();
    System.exit(0);
  }
}
