using Cratus.Randomization.Protos.V1;

namespace Cratus.Benchmark.Scenarios;

/// <summary>A site coordinator reading the blinded assignment of the participant randomized before the measurements.</summary>
internal sealed record AssignmentScenario() : CallScenario("assignment", "GetAssignment (a read)")
{
    public override Task<Result> MeasureAsync(SharedServer shared, int callers, Window window) =>
        Load.MeasureAsync(callers, window, shared.Server.Channels(), async (ch, _) =>
            await new RandomizationService.RandomizationServiceClient(ch).GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = shared.Participant }));
}
