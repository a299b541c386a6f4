namespace Cratus.Benchmark.Scenarios;

/// <summary>Randomize with 32 callers on two fresh servers measured alike: one on an empty trial, one on a trial
/// already holding many randomizations.</summary>
internal static class ScaleScenario
{
    public static async Task RunAsync(int scale, Window window, Report report)
    {
        var (empty, _) = await MeasureOnFreshServerAsync(0, "empty", "S-", window);
        var (full, fullMemory) = await MeasureOnFreshServerAsync(scale, "large", "L-", window);
        report.Line("## Scale");
        report.Line();
        report.Line($"Randomize with 32 callers, each on a fresh server after a {window.Warmup} s warm-up: on a trial already holding {scale:N0} randomizations " +
                    $"{full.Rate:F0} calls/s (p99 {full.P99:F2} ms, {full.Statuses}), on an empty one {empty.Rate:F0} calls/s (p99 {empty.P99:F2} ms): " +
                    $"ratio {full.Rate / empty.Rate:F2}.");
        report.Line($"Server peak memory on the large trial: {fullMemory:F0} MB.");
    }

    /// <summary>The measurement, and the server's peak memory (VmHWM, MB) after it.</summary>
    private static async Task<(Result Result, double PeakMemory)> MeasureOnFreshServerAsync(int participants, string trial, string screeningPrefix, Window window)
    {
        await using var server = await BenchServer.StartAsync(scaleParticipants: participants);
        Console.WriteLine($"measuring scale ({trial}) on server process {server.ProcessId}; peak after generating the schedule {server.GenerationPeakMegabytes:F0} MB, now {server.PeakMemoryMegabytes():F0} MB");
        server.ResetPeakMemory();
        var result = await RandomizeScenario.MeasureAsync(server, 32, window, screeningPrefix);
        Console.WriteLine($"peak under calls {server.PeakMemoryMegabytes():F0} MB");
        return (result, server.PeakMemoryMegabytes());
    }
}
