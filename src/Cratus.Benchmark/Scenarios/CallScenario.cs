namespace Cratus.Benchmark.Scenarios;

/// <summary>One of the measurements made one after another on a shared server, at 1, 8 and 32 callers.</summary>
/// <param name="Name">The name that <c>--only</c> selects it by.</param>
/// <param name="Label">Its row in the throughput table.</param>
internal abstract record CallScenario(string Name, string Label)
{
    /// <summary>What it needs on the server before any measurement (after the shared participant is randomized).</summary>
    public virtual Task PrepareAsync(SharedServer shared) => Task.CompletedTask;

    public abstract Task<Result> MeasureAsync(SharedServer shared, int callers, Window window);
}

/// <summary>The server the call scenarios share, with one participant randomized on it before any measurement.</summary>
internal sealed record SharedServer(BenchServer Server, string Participant);
