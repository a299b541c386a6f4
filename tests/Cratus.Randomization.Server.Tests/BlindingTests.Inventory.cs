using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The blind in the cell product's chain of custody: the inventory and the history a blinded caller reads.</summary>
public abstract partial class BlindingTests
{
    [ProviderFact]
    public async Task ProductHistory_BlindedRoles_SameShapeForEveryArm_AndNoTreatmentInInventoryOrHistory()
    {
        await using var server = NewServer(TwoSites);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        // Three participants, one per arm, their doses made as the pharmacy makes them: placebo from no unit, 100 million
        // from one unit of 100 million cells, 200 million from two.
        var byArm = new Dictionary<string, string>();
        for (var i = 0; byArm.Count < 3 && i < 12; i++)
        {
            var id = (await server.Site().RandomizeAsync(Requests.Randomize($"S{i:D3}"))).Assignment.ParticipantId;
            var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id });
            byArm.TryAdd(order.Placebo ? "placebo" : order.CellCount.ToString(System.Globalization.CultureInfo.InvariantCulture), id);
        }
        Assert.Equal(3, byArm.Count);
        // Each bag made, checked, dispatched and verified at the bedside through the real services (ProductPath).
        await InventoryTests.RegisterAsync(server, "LOT-1", "G123498654321H", "ABCDE27000069C", "LGV-0001-07");
        await server.As(TrialRole.QualityAssurance).Inventory.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1" });
        foreach (var (arm, id) in byArm.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            string[] units = arm switch { "placebo" => [], "100000000" => ["G123498654321H"], _ => ["ABCDE27000069C", "LGV-0001-07"] };
            await ProductPath.VerifiedAtBedsideAsync(server, id, unitIds: units);
        }

        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Monitor, TrialRole.QualityAssurance })
        {
            var history = server.As(role, TrialRoles.IsSiteRole(role) ? ["UM"] : []).ChainOfCustody;
            var replies = new List<GetProductHistoryResponse>();
            foreach (var id in byArm.Values) replies.Add(await history.GetProductHistoryAsync(new GetProductHistoryRequest { ParticipantId = id }));
            Assert.Single(replies.Select(r => r.CalculateSize()).Distinct());
            Assert.Single(replies.Select(r => string.Join(",", r.Events.Select(e => e.Kind))).Distinct());
            foreach (var reply in replies) Assert.DoesNotMatch(Treatment(), JsonFormatter.Default.Format(reply));
        }
        foreach (var role in new[] { TrialRole.Monitor, TrialRole.QualityAssurance })
        {
            var text = JsonFormatter.Default.Format(await server.As(role).Inventory.ListLotsAsync(new ListLotsRequest()));
            Assert.DoesNotMatch(Treatment(), text.Replace("\"cellsPerUnit\": \"100000000\"", "", StringComparison.Ordinal));
            Assert.DoesNotContain("DISPENSED", text, StringComparison.Ordinal);
            var unit = JsonFormatter.Default.Format(await server.As(role).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = "ABCDE27000069C" }));
            Assert.DoesNotContain("P-", unit, StringComparison.Ordinal);
            Assert.DoesNotContain("CP-", unit, StringComparison.Ordinal);
        }
    }
}
