import java.io.File;
import java.io.InputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * Test peer: a single-process HDFS (1 NameNode + 1 DataNode, MiniDFSCluster) with WebHDFS enabled,
 * bound to 127.0.0.1. Usage: java MiniHdfs <baseDir> [nameNodeHttpPort (0 = free port)].
 * Prints "WEBHDFS http://127.0.0.1:<port>" and "HDFS hdfs://127.0.0.1:<rpcPort>" once up, then runs
 * until stdin reaches EOF (the parent went away) or the process is signalled.
 */
public class MiniHdfs {
  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: MiniHdfs <baseDir> [httpPort]");
      System.exit(2);
    }
    File base = new File(args[0]).getAbsoluteFile();
    int httpPort = args.length > 1 ? Integer.parseInt(args[1]) : 0;

    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
    conf.setBoolean("dfs.webhdfs.enabled", true);
    conf.setBoolean("dfs.permissions.enabled", false);
    conf.set("dfs.namenode.http-address", "127.0.0.1:" + httpPort);
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.set("dfs.datanode.hostname", "127.0.0.1");
    conf.setBoolean("dfs.datanode.use.datanode.hostname", false);
    conf.setBoolean("dfs.client.use.datanode.hostname", false);
    conf.setInt("dfs.replication", 1);
    conf.setLong("dfs.blocksize", 1024L * 1024L);
    conf.setInt("dfs.namenode.handler.count", 4);
    // Let close() finish once the last block is committed, instead of polling complete() with a
    // 400 ms back-off until the DataNode's block report arrives (makes each write ~10x faster).
    conf.setInt("dfs.namenode.file.close.num-committed-allowed", 1);
    conf.setInt("dfs.client.block.write.locateFollowingBlock.initial.delay.ms", 20);
    // Small listing pages, so clients' LISTSTATUS_BATCH pagination is exercised by tests.
    conf.setInt("dfs.ls.limit", 7);
    conf.setInt("dfs.datanode.handler.count", 4);

    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf, base)
        .numDataNodes(1)
        .nameNodeHttpPort(httpPort)
        .format(true)
        .build();
    cluster.waitActive();

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try { cluster.shutdown(true); } catch (Throwable t) { /* exiting anyway */ }
    }));

    int port = cluster.getNameNode().getHttpAddress().getPort();
    System.out.println("WEBHDFS http://127.0.0.1:" + port);
    System.out.println("HDFS hdfs://127.0.0.1:" + cluster.getNameNodePort());
    System.out.flush();

    // Run until stdin closes (parent exited or closed the pipe) — no orphaned clusters.
    InputStream in = System.in;
    byte[] buf = new byte[256];
    while (in.read(buf) >= 0) { /* ignore input */ }
    System.exit(0);
  }
}
