using Cratus.Randomization.Protos.V1;

namespace Cratus.Benchmark.Scenarios;

/// <summary>A site coordinator randomizing fresh participants: the write.</summary>
internal sealed record RandomizeScenario() : CallScenario("randomize", "Randomize, fresh participants (the write)")
{
    public override Task<Result> MeasureAsync(SharedServer shared, int callers, Window window) =>
        MeasureAsync(shared.Server, callers, window, $"E{callers}-");

    /// <summary>Randomize calls, each for a new participant whose screening id is the prefix and a running number.</summary>
    public static Task<Result> MeasureAsync(BenchServer server, int callers, Window window, string screeningPrefix) =>
        Load.MeasureAsync(callers, window, server.Channels(), async (ch, i) =>
            await new RandomizationService.RandomizationServiceClient(ch).RandomizeAsync(BenchServer.Request($"{screeningPrefix}{i}")));
}
