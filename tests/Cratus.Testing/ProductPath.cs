using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using CellMeasurements = Cratus.Randomization.Protos.V1.CellMeasurements;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cratus.Testing;

/// <summary>
/// The cell product's path from the inventory to the bedside, through the real gRPC services as each role would walk
/// it: a lot registered and released by quality assurance, the dose prepared by one pharmacist and checked by a second,
/// dispatched, and verified at the bedside by the site; then the infusion. The one way tests reach an infusion (the
/// infusion gate needs a bag verified at the bedside), so no test weakens the gate.
/// </summary>
public static class ProductPath
{
    /// <summary>The preparing pharmacist (the default pharmacist token's subject) and the checking one.</summary>
    public const string SecondPharmacist = "pharmacist-2";

    private static int _lots;

    /// <summary>
    /// Registers a lot of <paramref name="units"/> units of <paramref name="cellsPerUnit"/> cells as the pharmacist and,
    /// unless <paramref name="release"/> is false, has quality assurance release it (e-signed by the test channel),
    /// through the real InventoryService; answers the unit ids (the sponsor's ids, "LOT-0001-01").
    /// </summary>
    public static async Task<IReadOnlyList<string>> ReleasedUnitsAsync(TrialServer server, int units, long cellsPerUnit, bool release = true)
    {
        var lotNumber = $"LOT-{Interlocked.Increment(ref _lots):D4}";
        var unitIds = Enumerable.Range(1, units).Select(i => $"{lotNumber}-{i:D2}").ToList();
        await server.As(TrialRole.Pharmacist).Inventory.RegisterLotAsync(new RegisterLotRequest
        {
            LotNumber = lotNumber, DonorCode = "D-" + lotNumber[4..], ProductCode = "S1234V00",
            Expiry = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow().AddDays(365)),
            Units = { unitIds.Select(u => new UnitToRegister { UnitId = u, CellsPerUnit = cellsPerUnit, ViabilityPercent = 95, StorageLocation = "LN2 tank 1, rack A" }) },
        });
        if (release) await server.As(TrialRole.QualityAssurance).Inventory.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = lotNumber });
        return unitIds;
    }

    /// <summary>A temperature excursion reported on a unit by quality assurance (the unit goes to quarantine), through InventoryService.</summary>
    public static async Task ReportExcursionAsync(TrialServer server, string unitId, string reason) =>
        await server.As(TrialRole.QualityAssurance).Inventory.ReportExcursionAsync(new ReportExcursionRequest { UnitId = unitId, Kind = ExcursionKind.Temperature, Reason = reason });

    /// <summary>Quality assurance quarantines the lot of <paramref name="unitId"/> (a unit of <see cref="ReleasedUnitsAsync"/>), through InventoryService.</summary>
    public static async Task QuarantineLotOfAsync(TrialServer server, string unitId, string reason) =>
        await server.As(TrialRole.QualityAssurance).Inventory.QuarantineLotAsync(new QuarantineLotRequest { LotNumber = unitId[..unitId.LastIndexOf('-')], Reason = reason });

    /// <summary>
    /// Prepares <paramref name="participantId"/>'s dose as its order says (released units with enough cells, or the
    /// placebo without units), thaw started <paramref name="startedAt"/> (default 30 minutes ago); answers the reply.
    /// </summary>
    public static async Task<PreparedDose> PrepareAsync(TrialServer server, string participantId, DateTimeOffset? startedAt = null, IReadOnlyList<string>? unitIds = null)
    {
        var pharmacy = server.Pharmacy();
        var order = await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId });
        var request = new RecordPreparationRequest
        {
            ParticipantId = participantId,
            PreparationStartedAt = Timestamp.FromDateTimeOffset(startedAt ?? server.Clock.GetUtcNow().AddMinutes(-30)),
        };
        if (!order.Placebo)
        {
            request.UnitIds.Add(unitIds ?? await ReleasedUnitsAsync(server, 1, order.CellCount + order.CellCount / 10));
            request.Measurements = new CellMeasurements
            {
                PostThawCellCount = order.CellCount + order.CellCount / 20, PostThawViabilityPercent = "91.5", FinalCells = order.CellCount, VolumeMl = "20",
            };
        }
        return (await pharmacy.RecordPreparationAsync(request)).Dose;
    }

    /// <summary>Prepared, checked by the second pharmacist and dispatched: answers the product id.</summary>
    public static async Task<string> DispatchedAsync(TrialServer server, string participantId, DateTimeOffset? startedAt = null, IReadOnlyList<string>? unitIds = null)
    {
        var dose = await PrepareAsync(server, participantId, startedAt, unitIds);
        await server.As(server.Token(TrialRole.Pharmacist, SecondPharmacist)).Pharmacy.VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = dose.ProductId });
        await server.Pharmacy().DispatchDoseAsync(new DispatchDoseRequest { ProductId = dose.ProductId, Courier = "courier J. Smith" });
        return dose.ProductId;
    }

    /// <summary>The whole path to a bag verified at the bedside by the site's coordinator: answers the product id.</summary>
    public static async Task<string> VerifiedAtBedsideAsync(TrialServer server, string participantId, string site = "UM", DateTimeOffset? startedAt = null,
        IReadOnlyList<string>? unitIds = null)
    {
        var productId = await DispatchedAsync(server, participantId, startedAt, unitIds);
        var answer = await server.As(TrialRole.SiteCoordinator, site).Infusion.VerifyAtBedsideAsync(
            new VerifyAtBedsideRequest { ProductId = productId, ParticipantId = participantId });
        if (!answer.Confirmed) throw new InvalidOperationException($"the bedside verification was refused: {answer.Message}");
        return productId;
    }

    /// <summary>
    /// Brings <paramref name="participantId"/>'s bag to the bedside (thaw started 30 minutes before <paramref name="at"/>)
    /// and records the infusion at <paramref name="at"/> (default now) as the site's coordinator.
    /// </summary>
    public static async Task<RecordInfusionResponse> InfuseAsync(TrialServer server, string participantId, DateTimeOffset? at = null, string site = "UM")
    {
        var when = at ?? server.Clock.GetUtcNow();
        await VerifiedAtBedsideAsync(server, participantId, site, when.AddMinutes(-30));
        return await server.As(TrialRole.SiteCoordinator, site).Participants.RecordInfusionAsync(
            new RecordInfusionRequest { ParticipantId = participantId, InfusedAt = Timestamp.FromDateTimeOffset(when) });
    }
}
