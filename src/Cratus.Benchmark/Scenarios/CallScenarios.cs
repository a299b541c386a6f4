namespace Cratus.Benchmark.Scenarios;

/// <summary>Runs the selected call scenarios on one server, each at every concurrency, and reports them with their
/// ratios to the baselines measured in the same run and the server's peak memory.</summary>
internal static class CallScenarios
{
    private static readonly CallScenario[] All = [new HealthScenario(), new AssignmentScenario(), new RandomizeScenario(), new StorageCeilingScenario(), new DoseOrderScenario()];

    private static readonly int[] Concurrencies = [1, 8, 32];

    // Each column: a scenario's rate over its baseline's, at the same number of callers; shown when both were measured.
    private static readonly (string Header, string Measured, string Baseline)[] Ratios =
    [
        ("Randomize / storage ceiling", "randomize", "storage"),
        ("GetAssignment / health check", "assignment", "health"),
        ("GetDoseOrder / health check", "doseorder", "health"),
        ("GetDoseOrder / Randomize", "doseorder", "randomize"),
    ];

    public static async Task RunAsync(string[] only, Window window, Report report, BenchStore store)
    {
        CallScenario[] scenarios = [.. All.Where(s => only.Contains(s.Name))];
        if (store.Kind == StoreKind.SqlServer && scenarios.Any(s => s is StorageCeilingScenario))
        {
            report.Line("SQL Server's commit ceiling is not measured: the benchmark holds no SQL Server client (Microsoft.Data.SqlClient is not among its dependencies).");
            report.Line();
            scenarios = [.. scenarios.Where(s => s is not StorageCeilingScenario)];
        }
        if (scenarios.Length == 0) return;
        await using var server = await BenchServer.StartAsync(scaleParticipants: 0, store);
        var shared = new SharedServer(server, await server.RandomizeOneAsync());
        foreach (var scenario in scenarios) await scenario.PrepareAsync(shared);
        // Generating the benchmark's long schedule is a one-off at start-up; the peak that matters is the one under calls.
        var startupPeak = server.PeakMemoryMegabytes();
        server.ResetPeakMemory();
        var results = new Dictionary<(string, int), Result>();
        foreach (var c in Concurrencies)
            foreach (var scenario in scenarios)
            {
                Console.WriteLine($"measuring {scenario.Name} at {c} callers on server process {server.ProcessId}");
                results[(scenario.Name, c)] = await scenario.MeasureAsync(shared, c, window);
            }
        report.Line("## Throughput and latency");
        report.Line();
        report.Line("| measurement | callers | calls/s | p50 ms | p99 ms | statuses |");
        report.Line("| --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var scenario in scenarios)
            foreach (var c in Concurrencies)
            {
                var r = results[(scenario.Name, c)];
                report.Line($"| {scenario.Label} | {c} | {r.Rate:F0} | {r.P50:F2} | {r.P99:F2} | {r.Statuses} |");
            }
        report.Line();
        var measured = scenarios.Select(s => s.Name).ToHashSet();
        var ratios = Ratios.Where(r => measured.Contains(r.Measured) && measured.Contains(r.Baseline)).ToList();
        if (ratios.Count > 0)
        {
            report.Line("## Ratios (same run)");
            report.Line();
            report.Line($"| callers | {string.Join(" | ", ratios.Select(r => r.Header))} |");
            report.Line($"| ---: |{string.Concat(ratios.Select(_ => " ---: |"))}");
            foreach (var c in Concurrencies)
                report.Line($"| {c} | {string.Join(" | ", ratios.Select(r => $"{results[(r.Measured, c)].Rate / results[(r.Baseline, c)].Rate:F2}"))} |");
            report.Line();
        }
        // The issue's measure for a shared store: Randomize over the store's own single-connection commit rate.
        if (measured.Contains("randomize") && measured.Contains("storage"))
        {
            report.Line($"Randomize over the store's single-connection commit rate ({results[("storage", 1)].Rate:F0} commits/s): " +
                        string.Join(", ", Concurrencies.Select(c => $"{results[("randomize", c)].Rate / results[("storage", 1)].Rate:F2} at {c} caller{(c == 1 ? "" : "s")}")) + ".");
            report.Line();
        }
        report.Line($"Server peak memory (VmHWM) under calls: {server.PeakMemoryMegabytes():F0} MB; at start-up, while generating the " +
                    $"{BenchServer.ScheduleLength(0):N0}-entry schedule, {startupPeak:F0} MB.");
        report.Line();
    }
}
