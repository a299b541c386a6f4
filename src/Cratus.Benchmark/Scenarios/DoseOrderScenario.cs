using Cratus.Randomization.Protos.V1;

namespace Cratus.Benchmark.Scenarios;

/// <summary>A pharmacist reading the dose orders of participants randomized before the measurements, each call the
/// next participant in turn. Every read is audited by the server.</summary>
internal sealed record DoseOrderScenario() : CallScenario("doseorder", "GetDoseOrder (an audited unblinded read)")
{
    private const int Participants = 100;

    private string[] _participants = [];

    public override async Task PrepareAsync(SharedServer shared)
    {
        _participants = new string[Participants];
        for (var i = 0; i < Participants; i++) _participants[i] = await shared.Server.RandomizeAsync($"D-{i}");
    }

    public override Task<Result> MeasureAsync(SharedServer shared, int callers, Window window) =>
        Load.MeasureAsync(callers, window, shared.Server.Channels(shared.Server.Token("pharmacist")), async (ch, i) =>
            await new PharmacyService.PharmacyServiceClient(ch).GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = _participants[i % Participants] }));
}
