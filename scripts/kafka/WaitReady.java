// Fallback readiness probe for scripts/kafka.sh when kafkajs is not installed:
// polls the broker with a real Metadata request (AdminClient.describeCluster)
// using the kafka-clients jar from the cached broker classpath.
// usage: java -cp <kafka classpath> WaitReady.java <host:port> <timeoutSeconds>
// Env KAFKA_BROKER_PID: give up early if that process dies.
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class WaitReady {
  public static void main(String[] args) throws Exception {
    String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
    long timeoutS = args.length > 1 ? Long.parseLong(args[1]) : 90;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
    String pidEnv = System.getenv("KAFKA_BROKER_PID");
    long pid = pidEnv == null || pidEnv.isEmpty() ? 0 : Long.parseLong(pidEnv);
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "4000");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "200");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    String last = "timeout";
    try (Admin admin = Admin.create(p)) {
      while (System.nanoTime() < deadline) {
        if (pid > 0 && !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          System.err.println("wait-ready: broker process " + pid + " exited");
          System.exit(1);
        }
        try {
          DescribeClusterResult r = admin.describeCluster();
          int n = r.nodes().get(4, TimeUnit.SECONDS).size();
          String id = r.clusterId().get(4, TimeUnit.SECONDS);
          if (n > 0) {
            System.out.println("wait-ready: " + bootstrap + " ok (cluster " + id + ", java admin)");
            System.exit(0);
          }
        } catch (Exception e) {
          last = String.valueOf(e.getCause() != null ? e.getCause() : e);
          Thread.sleep(500);
        }
      }
    }
    System.err.println("wait-ready: " + bootstrap + " not ready after " + timeoutS + "s: " + last);
    System.exit(1);
  }
}
