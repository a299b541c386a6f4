namespace Cratus.Benchmark.Scenarios;

/// <summary>Randomize with 32 callers on two fresh servers measured alike: one on an empty trial, one on a trial
/// already holding many randomizations; with <c>--baseline-server</c>, the large trial also on that build, for its
/// memory next to this one's in the same run.</summary>
internal static class ScaleScenario
{
    public static async Task RunAsync(int scale, Window window, Report report, string? baselineServer = null)
    {
        var empty = await MeasureOnFreshServerAsync(0, "empty", "S-", window);
        var full = await MeasureOnFreshServerAsync(scale, "large", "L-", window);
        Measurement? baseline = null;
        if (baselineServer is not null)
        {
            var own = BenchServer.ServerFolder;
            BenchServer.ServerFolder = baselineServer;
            try
            {
                baseline = await MeasureOnFreshServerAsync(scale, "large, baseline build", "B-", window);
            }
            finally
            {
                BenchServer.ServerFolder = own;
            }
        }
        report.Line("## Scale");
        report.Line();
        report.Line($"Randomize with 32 callers, each on a fresh server after a {window.Warmup} s warm-up: on a trial already holding {scale:N0} randomizations " +
                    $"{full.Result.Rate:F0} calls/s (p99 {full.Result.P99:F2} ms, {full.Result.Statuses}), on an empty one {empty.Result.Rate:F0} calls/s (p99 {empty.Result.P99:F2} ms): " +
                    $"ratio {full.Result.Rate / empty.Result.Rate:F2}.");
        report.Line($"Server peak memory on the large trial (VmHWM over the server's life: start, generating its {BenchServer.ScheduleLength(scale):N0}-entry schedule, " +
                    $"the calls): {full.Peak:F0} MB; while generating the schedule {full.GenerationPeak:F0} MB, under the calls {full.CallsPeak:F0} MB. " +
                    $"On the empty trial ({BenchServer.ScheduleLength(0):N0} entries): {empty.Peak:F0} MB.");
        if (baseline is not null)
            report.Line($"The same large trial on the baseline build ({baselineServer}): {baseline.Peak:F0} MB (while generating {baseline.GenerationPeak:F0} MB, " +
                        $"under the calls {baseline.CallsPeak:F0} MB; {baseline.Result.Rate:F0} calls/s, p99 {baseline.Result.P99:F2} ms): this build's peak is " +
                        $"{full.Peak / baseline.Peak:F2} of it.");
        report.Line();
    }

    /// <summary>A measurement and the server's peak memory (VmHWM, MB): over its life, until its schedule was
    /// generated, and under the calls.</summary>
    private sealed record Measurement(Result Result, double GenerationPeak, double CallsPeak)
    {
        public double Peak => Math.Max(GenerationPeak, CallsPeak);
    }

    private static async Task<Measurement> MeasureOnFreshServerAsync(int participants, string trial, string screeningPrefix, Window window)
    {
        await using var server = await BenchServer.StartAsync(scaleParticipants: participants);
        Console.WriteLine($"measuring scale ({trial}) on server process {server.ProcessId}; peak until the schedule was generated {server.GenerationPeakMegabytes:F0} MB");
        // From here the peak is the one under the calls (the pre-fill is written by the benchmark, not the server).
        server.ResetPeakMemory();
        var result = await RandomizeScenario.MeasureAsync(server, 32, window, screeningPrefix);
        Console.WriteLine($"peak under calls {server.PeakMemoryMegabytes():F0} MB");
        return new Measurement(result, server.GenerationPeakMegabytes, server.PeakMemoryMegabytes());
    }
}
