using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Domain = Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The cell product's inventory and chain of custody through real gRPC: registering lots (ISBT 128 DIN check), QA's
/// signed release, quarantine, excursions, returns and destruction along the allowed transitions, who may call what,
/// and the history (attributable, in order, linked to the audit trail; blinded for everyone but the pharmacy).
/// </summary>
public abstract class InventoryTests : OnEachDatabase
{
    // Valid DINs: the JPAC Red Book's worked example, and ICCBBA ST-001's example as published.
    private const string DinA = "G123498654321H";
    private const string DinB = "ABCDE27000069C";
    private const string SponsorId = "LGV-0001-07";

    /// <summary>A lot of the given units (100 million cells each, 93.5% viable), expiring in 180 days.</summary>
    public static RegisterLotRequest Lot(string lotNumber, DateTimeOffset now, string? requestId, params string[] unitIds) => new()
    {
        LotNumber = lotNumber, DonorCode = "D-0042", ProductCode = "E0001V00", Expiry = Timestamp.FromDateTimeOffset(now.AddDays(180)), RequestId = requestId ?? "",
        Units = { unitIds.Select((u, i) => new UnitToRegister { UnitId = u, CellsPerUnit = 100_000_000, ViabilityPercent = 93.5, StorageLocation = $"LN2 tank 1, box {i + 1}" }) },
    };

    public static async Task<ProductLot> RegisterAsync(TrialServer server, string lotNumber, params string[] unitIds) =>
        (await server.As(TrialRole.Pharmacist).Inventory.RegisterLotAsync(Lot(lotNumber, server.Clock.GetUtcNow(), null, unitIds))).Lot;

    private static async Task<ProductLot> ReleaseAsync(TrialServer server, string lotNumber) =>
        (await server.As(TrialRole.QualityAssurance).Inventory.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = lotNumber })).Lot;

    /// <summary>
    /// What the preparation (the bedside branch's RecordPreparation and DispatchDose) does to a unit, done through the
    /// domain on the server's own store: released, reserved, thawed and dispensed for a dose.
    /// </summary>
    public static async Task DispenseAsync(TrialServer server, string unitId, long? preparationId = null, string? participantId = null, string? productId = null)
    {
        using var scope = server.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        preparationId ??= await PreparationAsync(server, participantId ?? "P-UNITTEST01", productId ?? $"CP-{unitId.GetHashCode() & 0x7fffffff:D10}");
        var unit = await db.ProductUnits.SingleAsync(u => u.UnitId == unitId);
        var lot = await db.ProductLots.SingleAsync(l => l.Id == unit.LotId);
        var now = server.Clock.GetUtcNow();
        var pharmacist = new Domain.Actor("pharmacist-prep", "pharmacist");
        if (!lot.IsReleased)
        {
            lot.Release(new Domain.Actor("qa-test", "quality_assurance"), now, false, null);
            db.ProductEvents.Add(unit.MoveTo(Domain.UnitState.Released, new Domain.Actor("qa-test", "quality_assurance"), now, "lot released"));
        }
        var events = new[]
        {
            unit.ReserveFor(preparationId.Value, participantId, pharmacist, now, $"reserved for product {productId}"),
            unit.MoveTo(Domain.UnitState.Thawed, pharmacist, now, $"thawed for product {productId}", detail: "thaw started"),
            unit.MoveTo(Domain.UnitState.Dispensed, pharmacist, now, "dispatched"),
        };
        foreach (var e in events)
        {
            e.ParticipantId = participantId;
            e.ProductId = productId;
            db.ProductEvents.Add(e);
        }
        await db.SaveChangesAsync();
    }

    private static async Task<RpcException> Refused<T>(AsyncUnaryCall<T> call) => await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

    private static string? ReasonOf(RpcException e) => e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason;

    private static async Task<int> CountAsync(TrialServer server, string table) =>
        Convert.ToInt32((await server.QueryAsync($"""SELECT COUNT(*) FROM "{table}" """))[0][0], System.Globalization.CultureInfo.InvariantCulture);

    [ProviderFact]
    public async Task RegisterLot_ByThePharmacy_UnitsInQuarantine_EachEventAttributedAndLinkedToTheAudit()
    {
        await using var server = NewServer();
        var lot = await RegisterAsync(server, "LOT-2026-001", DinA, DinB, SponsorId);

        Assert.Equal(("LOT-2026-001", "D-0042", "E0001V00", false, 0), (lot.LotNumber, lot.DonorCode, lot.ProductCode, lot.Released, lot.UsableUnits));
        Assert.All(lot.Units, u => Assert.Equal(UnitState.InQuarantine, u.State));
        Assert.Equal([true, true, false], lot.Units.Select(u => u.Isbt128Din));
        Assert.Equal(100_000_000, lot.Units[0].CellsPerUnit);
        Assert.Equal(93.5, lot.Units[0].ViabilityPercent);

        var history = (await server.As(TrialRole.Pharmacist).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinB })).Events;
        Assert.Equal(["lot.registered", "unit.registered"], history.Select(e => e.Kind));
        var audit = Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "lot.registered" })).Events);
        Assert.Equal("LOT-2026-001", audit.Target);
        Assert.All(history, e => Assert.Equal((audit.Sequence, "pharmacist"), (e.AuditSequence, e.Role)));
        Assert.All(history, e => Assert.Equal(TrialServer.Now, e.At.ToDateTimeOffset()));
        Assert.Equal("Pharmacist-user", history[0].By);
        Assert.Equal(UnitState.InQuarantine, history[1].ToState);
    }

    [ProviderFact]
    public async Task RegisterLot_WrongDinCheckCharacter_IsRefusedNamingTheRightOne_AndWritesNothing()
    {
        await using var server = NewServer();
        var wrong = "G123498654321X";
        var e = await Refused(server.As(TrialRole.Pharmacist).Inventory.RegisterLotAsync(Lot("LOT-BAD", server.Clock.GetUtcNow(), null, DinB, wrong)));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("DONATION_NUMBER_INVALID", ReasonOf(e));
        Assert.Contains("should be H", e.Status.Detail);
        var field = Assert.Single(e.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations);
        Assert.Equal("units[1].unit_id", field.Field);
        Assert.Equal(0, await CountAsync(server, "ProductLots"));
        Assert.Equal(0, await CountAsync(server, "ProductUnits"));
        Assert.Empty((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "lot.registered" })).Events);
    }

    [ProviderFact]
    public async Task RegisterLot_UnitOrLotGivenTwiceOrRegisteredBefore_IsRefused()
    {
        await using var server = NewServer();
        var pharmacy = server.As(TrialRole.Pharmacist).Inventory;
        var twice = await Refused(pharmacy.RegisterLotAsync(Lot("LOT-1", server.Clock.GetUtcNow(), null, DinA, DinA)));
        Assert.Equal((StatusCode.InvalidArgument, "REQUEST_INVALID"), (twice.StatusCode, ReasonOf(twice)));
        Assert.Contains(DinA, twice.Status.Detail);

        await RegisterAsync(server, "LOT-1", DinA);
        var unitAgain = await Refused(pharmacy.RegisterLotAsync(Lot("LOT-2", server.Clock.GetUtcNow(), null, DinB, DinA)));
        Assert.Equal((StatusCode.AlreadyExists, "UNIT_EXISTS"), (unitAgain.StatusCode, ReasonOf(unitAgain)));
        Assert.Contains(DinA, unitAgain.Status.Detail);
        var lotAgain = await Refused(pharmacy.RegisterLotAsync(Lot("LOT-1", server.Clock.GetUtcNow(), null, DinB)));
        Assert.Equal((StatusCode.AlreadyExists, "LOT_EXISTS"), (lotAgain.StatusCode, ReasonOf(lotAgain)));
        Assert.Equal(1, await CountAsync(server, "ProductLots"));
        Assert.Equal(1, await CountAsync(server, "ProductUnits"));
    }

    [ProviderFact]
    public async Task ReleaseLot_ByQualityAssurance_IsSigned_ReleasesTheUnits_OnlyOnce()
    {
        await using var server = NewServer();
        await RegisterAsync(server, "LOT-1", DinA, DinB);
        var qa = server.As(TrialRole.QualityAssurance).Inventory;

        // Unsigned (a raw channel: no automatic signature) is refused before anything changes.
        var unsigned = await Refused(new InventoryService.InventoryServiceClient(RequestIds.Fill(server.RawChannel(server.Token(TrialRole.QualityAssurance))))
            .ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1" }));
        Assert.Equal("SIGNATURE_REQUIRED", ReasonOf(unsigned));
        var noJustification = await Refused(qa.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1", Exceptional = true }));
        Assert.Equal(("REQUEST_INVALID", "justification"), (ReasonOf(noJustification),
            noJustification.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field));

        var lot = (await qa.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1", Exceptional = true, Justification = "sterility result pending; clinical need" })).Lot;

        Assert.True(lot.Released);
        Assert.True(lot.ExceptionalRelease);
        Assert.Equal(2, lot.UsableUnits);
        Assert.All(lot.Units, u => Assert.Equal((UnitState.Released, true), (u.State, u.Usable)));
        Assert.Equal((SignedAction.LotRelease, "LOT-1", "QualityAssurance-user", "quality_assurance"),
            (lot.ReleaseSignature.Action, lot.ReleaseSignature.RecordId, lot.ReleaseSignature.UserName, lot.ReleaseSignature.Role));
        Assert.Contains("Signed by Signer QualityAssurance-user", lot.ReleaseSignature.Text);
        var audit = Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "lot.released" })).Events);
        Assert.Equal(lot.ReleaseSignature.RecordSha256, audit.Signature.RecordSha256);
        Assert.Equal("sterility result pending; clinical need", audit.Reason);

        var again = await Refused(qa.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1" }));
        Assert.Equal((StatusCode.FailedPrecondition, "LOT_ALREADY_RELEASED"), (again.StatusCode, ReasonOf(again)));
        var history = (await server.As(TrialRole.QualityAssurance).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinA })).Events;
        Assert.Equal(["lot.registered", "unit.registered", "lot.released", "unit.released"], history.Select(e => e.Kind));
        Assert.Equal(audit.Sequence, history[3].AuditSequence);
        Assert.Equal((UnitState.InQuarantine, UnitState.Released), (history[3].FromState, history[3].ToState));
    }

    [ProviderFact]
    public async Task QuarantineAndExcursion_MakeUnitsUnusable_ReleaseAgainLeavesTheExcursionUnitHeld()
    {
        await using var server = NewServer();
        await RegisterAsync(server, "LOT-1", DinA, DinB, SponsorId);
        await ReleaseAsync(server, "LOT-1");
        var pharmacy = server.As(TrialRole.Pharmacist).Inventory;
        var qa = server.As(TrialRole.QualityAssurance).Inventory;

        var both = await Refused(pharmacy.ReportExcursionAsync(new ReportExcursionRequest { UnitId = DinA, LotNumber = "LOT-1", Kind = ExcursionKind.Damage, Reason = "x" }));
        Assert.Equal(StatusCode.InvalidArgument, both.StatusCode);
        var afterExcursion = (await pharmacy.ReportExcursionAsync(new ReportExcursionRequest
            { UnitId = DinB, Kind = ExcursionKind.Temperature, Reason = "dry shipper logger read -120 °C for 40 minutes" })).Lot;
        var held = afterExcursion.Units.Single(u => u.UnitId == DinB);
        Assert.Equal((UnitState.InQuarantine, false, true), (held.State, held.Usable, held.ExcursionReported));
        Assert.Equal(2, afterExcursion.UsableUnits);

        var quarantined = (await qa.QuarantineLotAsync(new QuarantineLotRequest { LotNumber = "LOT-1", Reason = "endotoxin out of specification on retest" })).Lot;
        Assert.Equal((false, true, 0), (quarantined.Released, quarantined.Quarantined, quarantined.UsableUnits));
        Assert.All(quarantined.Units, u => Assert.Equal(UnitState.InQuarantine, u.State));
        Assert.Equal("endotoxin out of specification on retest", quarantined.QuarantineReason);

        var released = await ReleaseAsync(server, "LOT-1");
        Assert.Equal(2, released.UsableUnits);
        Assert.Equal(UnitState.InQuarantine, released.Units.Single(u => u.UnitId == DinB).State);
        var kinds = (await server.As(TrialRole.Pharmacist).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinB })).Events
            .Select(e => e.Kind).ToList();
        Assert.Equal(["lot.registered", "unit.registered", "lot.released", "unit.released", "unit.excursion", "lot.quarantined", "lot.released"], kinds);
        Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unit.excursion_reported" })).Events);
        Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "lot.quarantined" })).Events);
    }

    [ProviderFact]
    public async Task Units_MoveOnlyAlongAllowedTransitions_ExpiredUnitsAreRecordedThenDestroyed()
    {
        await using var server = NewServer();
        var pharmacy = server.As(TrialRole.Pharmacist).Inventory;
        var now = server.Clock.GetUtcNow();
        var request = Lot("LOT-1", now, null, DinA, DinB);
        request.Units[1].Expiry = Timestamp.FromDateTimeOffset(now.AddDays(10));
        await pharmacy.RegisterLotAsync(request);
        await ReleaseAsync(server, "LOT-1");

        var notDispensed = await Refused(pharmacy.ReturnUnitAsync(new ReturnUnitRequest { UnitId = DinA, Reason = "not needed" }));
        Assert.Equal((StatusCode.FailedPrecondition, "UNIT_TRANSITION_NOT_ALLOWED"), (notDispensed.StatusCode, ReasonOf(notDispensed)));
        Assert.Contains("is released; it cannot become returned", notDispensed.Status.Detail);
        Assert.Contains("reserved", notDispensed.Status.Detail);

        var destroyed = (await pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinA, Reason = "bag cracked on inspection" })).Unit;
        Assert.Equal((UnitState.Destroyed, false), (destroyed.State, destroyed.Usable));
        var twice = await Refused(pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinA, Reason = "again" }));
        Assert.Contains("no further change", twice.Status.Detail);

        server.Clock.Advance(TimeSpan.FromDays(11));
        pharmacy = server.As(TrialRole.Pharmacist).Inventory; // a new token on the moved clock
        var lot = (await pharmacy.GetLotAsync(new GetLotRequest { LotNumber = "LOT-1" })).Lot;
        Assert.Equal((UnitState.Expired, false), (lot.Units[1].State, lot.Units[1].Usable));
        Assert.Equal(0, lot.UsableUnits);
        await pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinB, Reason = "expired" });
        var history = (await server.As(TrialRole.Pharmacist).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinB })).Events;
        Assert.Equal(["unit.expired", "unit.destroyed"], history.TakeLast(2).Select(e => e.Kind));
        Assert.Equal((UnitState.Released, UnitState.Expired, UnitState.Destroyed), (history[^2].FromState, history[^2].ToState, history[^1].ToState));
        Assert.Equal("expired", history[^1].Reason);

        // A dispensed unit comes back, then is destroyed.
        await RegisterAsync(server, "LOT-2", SponsorId);
        await DispenseAsync(server, SponsorId);
        var returned = (await pharmacy.ReturnUnitAsync(new ReturnUnitRequest { UnitId = SponsorId, Reason = "infusion postponed" })).Unit;
        Assert.Equal(UnitState.Returned, returned.State);
        Assert.Equal(UnitState.Destroyed, (await pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = SponsorId, Reason = "returned, not reusable" })).Unit.State);
    }

    [ProviderFact]
    public async Task Refusals_NameTheReason()
    {
        await using var server = NewServer();
        var pharmacy = server.As(TrialRole.Pharmacist).Inventory;
        var noLot = await Refused(server.As(TrialRole.QualityAssurance).Inventory.QuarantineLotAsync(new QuarantineLotRequest { LotNumber = "NOPE", Reason = "x" }));
        Assert.Equal((StatusCode.NotFound, "LOT_NOT_FOUND"), (noLot.StatusCode, ReasonOf(noLot)));
        var noUnit = await Refused(pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinA, Reason = "x" }));
        Assert.Equal((StatusCode.NotFound, "UNIT_NOT_FOUND"), (noUnit.StatusCode, ReasonOf(noUnit)));
        var noReason = await Refused(pharmacy.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinA, Reason = " " }));
        Assert.Equal(StatusCode.InvalidArgument, noReason.StatusCode);
        var past = Lot("LOT-OLD", server.Clock.GetUtcNow(), null, DinA);
        past.Expiry = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow().AddDays(-1));
        Assert.Equal(StatusCode.InvalidArgument, (await Refused(pharmacy.RegisterLotAsync(past))).StatusCode);

        await RegisterAsync(server, "LOT-1", DinA);
        server.Clock.Advance(TimeSpan.FromDays(181));
        var expired = await Refused(server.As(TrialRole.QualityAssurance).Inventory.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1" }));
        Assert.Equal((StatusCode.FailedPrecondition, "LOT_EXPIRED"), (expired.StatusCode, ReasonOf(expired)));
    }

    [ProviderFact]
    public async Task WhoMayCallWhat_PharmacyRegistersReturnsDestroys_QaReleasesAndQuarantines_OthersAreRefused()
    {
        await using var server = NewServer();
        await RegisterAsync(server, "LOT-1", DinA);
        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Statistician, TrialRole.Monitor, TrialRole.Administrator, TrialRole.QualityAssurance })
        {
            var e = await Refused(server.As(role, "UM").Inventory.RegisterLotAsync(Lot("LOT-" + role, server.Clock.GetUtcNow(), null, DinB)));
            Assert.Equal((StatusCode.PermissionDenied, "ROLE_NOT_PERMITTED"), (e.StatusCode, ReasonOf(e)));
        }
        foreach (var role in new[] { TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.Monitor, TrialRole.Administrator, TrialRole.DsmbMember })
        {
            Assert.Equal(StatusCode.PermissionDenied, (await Refused(server.As(role).Inventory.ReleaseLotAsync(new ReleaseLotRequest { LotNumber = "LOT-1" }))).StatusCode);
            Assert.Equal(StatusCode.PermissionDenied,
                (await Refused(server.As(role).Inventory.QuarantineLotAsync(new QuarantineLotRequest { LotNumber = "LOT-1", Reason = "x" }))).StatusCode);
        }
        Assert.Equal(StatusCode.PermissionDenied,
            (await Refused(server.As(TrialRole.QualityAssurance).Inventory.DestroyUnitAsync(new DestroyUnitRequest { UnitId = DinA, Reason = "x" }))).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, (await Refused(server.As(TrialRole.SiteCoordinator, "UM").Inventory.ListLotsAsync(new ListLotsRequest()))).StatusCode);
        // A site reads its participants' doses, never a unit's history.
        Assert.Equal(StatusCode.PermissionDenied,
            (await Refused(server.As(TrialRole.SiteCoordinator, "UM").ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinA }))).StatusCode);
        // QA reports excursions too, and lists the lots.
        await server.As(TrialRole.QualityAssurance).Inventory.ReportExcursionAsync(new ReportExcursionRequest { LotNumber = "LOT-1", Kind = ExcursionKind.Damage, Reason = "rack dropped" });
        Assert.Single((await server.As(TrialRole.QualityAssurance).Inventory.ListLotsAsync(new ListLotsRequest())).Lots);
    }

    /// <summary>
    /// A prepared dose's row (the preparation's record that units and events point to), made through the domain's
    /// <see cref="Domain.DosePreparation.Prepare"/> on the server's store; answers its id.
    /// </summary>
    internal static async Task<long> PreparationAsync(TrialServer server, string participantId, string productId)
    {
        using var scope = server.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        if (await db.DosePreparations.SingleOrDefaultAsync(d => d.ProductId == productId) is { } existing) return existing.Id;
        var now = server.Clock.GetUtcNow();
        var dose = Domain.DosePreparation.Prepare(productId, participantId, "UM", true, 0, [], null, now, new Domain.Actor("pharmacist-prep", "pharmacist"), now,
            scope.ServiceProvider.GetRequiredService<Domain.TrialDefinition>().DoseHandling);
        db.DosePreparations.Add(dose);
        await db.SaveChangesAsync();
        return dose.Id;
    }

    [ProviderFact]
    public async Task History_OfAParticipantOrProduct_BlindedHasTheSameShapeWhateverTheDose_PharmacySeesAll()
    {
        await using var server = NewServer(("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
            "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"));
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "history" });
        // One participant of each arm, in the order placebo, 100 million, 200 million.
        var byArm = new Dictionary<long, string>();
        for (var i = 0; byArm.Count < 3 && i < 12; i++)
        {
            var id = (await server.Site().RandomizeAsync(Requests.Randomize($"SCR-{i}"))).Assignment.ParticipantId;
            var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id });
            byArm.TryAdd(order.Placebo ? 0 : order.CellCount, id);
        }
        Assert.Equal(3, byArm.Count);
        var ids = byArm.OrderBy(x => x.Key).Select(x => x.Value).ToList();
        await RegisterAsync(server, "LOT-1", DinA, DinB, SponsorId);
        await ReleaseAsync(server, "LOT-1");
        // Each bag made through the real services (ProductPath), checked, dispatched and verified at the bedside: the
        // placebo from no unit, 100 million from one unit, 200 million from two.
        var placeboProduct = await ProductPath.VerifiedAtBedsideAsync(server, ids[0]);
        await ProductPath.VerifiedAtBedsideAsync(server, ids[1], unitIds: [DinA]);
        var product200 = await ProductPath.VerifiedAtBedsideAsync(server, ids[2], unitIds: [DinB, SponsorId]);

        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Monitor, TrialRole.QualityAssurance })
        {
            var history = server.As(role, TrialRoles.IsSiteRole(role) ? ["UM"] : []).ChainOfCustody;
            var replies = new List<GetProductHistoryResponse>();
            foreach (var id in ids) replies.Add(await history.GetProductHistoryAsync(new GetProductHistoryRequest { ParticipantId = id }));
            var byProduct = await history.GetProductHistoryAsync(new GetProductHistoryRequest { ProductId = product200 });
            Assert.Equal(replies[2].Events.Select(e => e.Kind), byProduct.Events.Select(e => e.Kind));
            Assert.All(replies, r => Assert.True(r.Blinded));
            Assert.Single(replies.Select(r => r.CalculateSize()).Distinct());
            Assert.Single(replies.Select(r => string.Join("|", r.Events.Select(e => $"{e.Kind}/{e.Reason}/{e.By}/{e.Role}"))).Distinct());
            foreach (var e in replies.SelectMany(r => r.Events))
            {
                Assert.Equal(("", "", "", UnitState.Unspecified, UnitState.Unspecified), (e.UnitId, e.LotNumber, e.Detail, e.FromState, e.ToState));
                Assert.DoesNotContain("cell", e.Reason + e.Description, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("placebo", e.Reason + e.Description, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("unit", e.Reason + e.Description, StringComparison.OrdinalIgnoreCase);
            }
            Assert.Equal(["dose.prepared", "dose.verified", "dose.dispatched", "dose.verified_at_bedside"], replies[0].Events.Select(e => e.Kind));
            Assert.Equal("verified at the bedside", replies[0].Events[3].Reason);
        }

        // The unblinded pharmacy view: every unit move, the detail, in order.
        var full = await server.As(TrialRole.Pharmacist).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { ParticipantId = ids[2] });
        Assert.False(full.Blinded);
        Assert.Equal(10, full.Events.Count);
        Assert.Equal([DinB, SponsorId], full.Events.Where(e => e.Kind == "unit.reserved").Select(e => e.UnitId));
        Assert.Contains("required 200000000 cells", full.Events.Single(e => e.Kind == "dose.prepared").Detail);
        Assert.Single((await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "product_history.unblinded_read" })).Events);

        // A unit's blinded history names no participant or dose, and its use has no time.
        var unit = await server.As(TrialRole.QualityAssurance).ChainOfCustody.GetProductHistoryAsync(new GetProductHistoryRequest { UnitId = DinA });
        Assert.Equal(["lot.registered", "unit.registered", "lot.released", "unit.released", "unit.issued"], unit.Events.Select(e => e.Kind));
        Assert.All(unit.Events, e => Assert.Equal(("", "", ""), (e.ParticipantId, e.ProductId, e.Detail)));
        Assert.Null(unit.Events[^1].At);
        var lots = (await server.As(TrialRole.Monitor).Inventory.ListLotsAsync(new ListLotsRequest())).Lots;
        Assert.All(lots.Single().Units, u => Assert.Equal(UnitState.Issued, u.State));
        Assert.All((await server.As(TrialRole.Pharmacist).Inventory.ListLotsAsync(new ListLotsRequest())).Lots.Single().Units,
            u => Assert.Equal(UnitState.Dispensed, u.State));

        // Another site's participant, or an unknown product, is not found (the same answer).
        var elsewhere = server.As(TrialRole.SiteCoordinator, "JH").ChainOfCustody;
        Assert.Equal("PARTICIPANT_NOT_FOUND", ReasonOf(await Refused(elsewhere.GetProductHistoryAsync(new GetProductHistoryRequest { ParticipantId = ids[0] }))));
        var product = await Refused(elsewhere.GetProductHistoryAsync(new GetProductHistoryRequest { ProductId = placeboProduct }));
        var unknown = await Refused(elsewhere.GetProductHistoryAsync(new GetProductHistoryRequest { ProductId = "CP-ZZZZZZZZZZ" }));
        Assert.Equal((StatusCode.NotFound, "PRODUCT_NOT_FOUND"), (product.StatusCode, ReasonOf(product)));
        Assert.Equal(product.Status.Detail.Replace(placeboProduct, "CP-ZZZZZZZZZZ", StringComparison.Ordinal), unknown.Status.Detail);
    }
}

public sealed class InventoryTestsOnSqlite : InventoryTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class InventoryTestsOnPostgreSql : InventoryTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}
