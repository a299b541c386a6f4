using Grpc.Health.V1;

namespace Cratus.Benchmark.Scenarios;

/// <summary>The gRPC health check without a token: what the transport alone costs, the baseline for the reads.</summary>
internal sealed record HealthScenario() : CallScenario("health", "gRPC health check (transport baseline)")
{
    public override Task<Result> MeasureAsync(SharedServer shared, int callers, Window window) =>
        Load.MeasureAsync(callers, window, shared.Server.Channels(anonymous: true), async (ch, _) =>
            await new Health.HealthClient(ch).CheckAsync(new HealthCheckRequest()));
}
