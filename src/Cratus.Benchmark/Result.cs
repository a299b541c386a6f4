using Grpc.Core;

namespace Cratus.Benchmark;

/// <summary>One measurement: calls per second in the window, latency percentiles in ms, and the count per status.</summary>
internal sealed record Result(double Rate, double P50, double P99, string Statuses)
{
    public static Result From(List<double> latencies, IEnumerable<KeyValuePair<StatusCode, int>> statuses, int seconds)
    {
        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
        var counts = statuses.GroupBy(s => s.Key).Select(g => $"{g.Key} {g.Sum(x => x.Value)}");
        return new Result(latencies.Count / (double)seconds, Percentile(0.50), Percentile(0.99), string.Join(", ", counts));
    }
}
