using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Web.Tests;

/// <summary>
/// A trial in its randomized phase, set up through the gRPC API: two sites (UM and JH), the schedule generated, the 30
/// participants of the target randomized (18 at UM, 12 at JH), a few infused, one emergency-unblinded by UM's
/// investigator, and a DSMB aggregate unblinding approved. Knows every participant's arm (read as the pharmacy).
/// </summary>
public sealed class PhaseTwoScenario
{
    public static readonly (string, string) TwoSites =
        ("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
         "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Johns Hopkins\" }");

    public IReadOnlyList<BlindedAssignment> Participants { get; }
    public IReadOnlyDictionary<string, string> ArmOf { get; }

    private PhaseTwoScenario(IReadOnlyList<BlindedAssignment> participants, IReadOnlyDictionary<string, string> armOf) =>
        (Participants, ArmOf) = (participants, armOf);

    public IEnumerable<BlindedAssignment> At(string site) => Participants.Where(p => p.SiteCode == site);

    public static async Task<PhaseTwoScenario> SetUpAsync(TrialServer server, int umCount = 18, int jhCount = 12)
    {
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var pharmacy = server.Pharmacy();
        var participants = new List<BlindedAssignment>();
        var armOf = new Dictionary<string, string>();
        var n = 0;
        foreach (var (site, count) in new[] { ("UM", umCount), ("JH", jhCount) })
        {
            var coordinator = server.Site(site);
            for (var i = 0; i < count; i++, n++)
            {
                var reply = await coordinator.RandomizeAsync(Requests.Randomize($"S{n:D3}", n % 5 < 3 ? Sex.Male : Sex.Female, site));
                participants.Add(reply.Assignment);
                armOf[reply.Assignment.ParticipantId] = (await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = reply.Assignment.ParticipantId })).ArmCode;
            }
        }
        await server.As(TrialRole.Investigator, "UM").Unblinding.EmergencyUnblindAsync(new EmergencyUnblindRequest
        {
            ParticipantId = participants[0].ParticipantId, Reason = "anaphylaxis at the bedside",
        });
        var request = (await server.As(server.Token(TrialRole.Statistician, "stat-1")).Unblinding.RequestUnblindingAsync(
            new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = "interim safety review" })).Request;
        await server.As(server.Token(TrialRole.Statistician, "stat-2")).Unblinding.ApproveUnblindingAsync(
            new ApproveUnblindingRequest { UnblindingId = request.UnblindingId, Reason = "DSMB interim review approved" });
        return new PhaseTwoScenario(participants, armOf);
    }
}
