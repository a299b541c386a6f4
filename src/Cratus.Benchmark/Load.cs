using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cratus.Benchmark;

internal static class Load
{
    // Many call loops over a few reused channels; each loop bounded in count and time.
    public static async Task<Result> MeasureAsync(int callers, Window window, GrpcChannel[] channels, Func<GrpcChannel, long, Task> call)
    {
        var latencies = new List<double>[callers];
        var statuses = new Dictionary<StatusCode, int>[callers];
        long sequence = 0;
        var measuring = false;
        var stopAt = DateTime.UtcNow.AddSeconds(window.Warmup + window.Seconds);
        var startMeasuringAt = DateTime.UtcNow.AddSeconds(window.Warmup);
        var loops = Enumerable.Range(0, callers).Select(async loop =>
        {
            latencies[loop] = [];
            statuses[loop] = [];
            var channel = channels[loop % channels.Length];
            for (var n = 0; n < 1_000_000 && DateTime.UtcNow < stopAt; n++)
            {
                var started = Stopwatch.GetTimestamp();
                var status = StatusCode.OK;
                try
                {
                    await call(channel, Interlocked.Increment(ref sequence));
                }
                catch (RpcException ex)
                {
                    status = ex.StatusCode;
                }
                if (DateTime.UtcNow >= startMeasuringAt && DateTime.UtcNow < stopAt)
                {
                    Volatile.Write(ref measuring, true);
                    latencies[loop].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    statuses[loop][status] = statuses[loop].GetValueOrDefault(status) + 1;
                }
            }
        }).ToList();
        await Task.WhenAll(loops);
        return Result.From(latencies.SelectMany(l => l).ToList(), statuses.SelectMany(s => s), window.Seconds);
    }
}
