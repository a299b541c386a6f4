using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The cell product from the released lot to the infusion, through real gRPC calls by each role (issue #16): the
/// whole path in both phases, the mix-ups it must stop (wrong bag, expired window in both configurations, unreleased
/// lot, quarantined unit, a second preparation, the preparer checking their own dose), the label that is the same for
/// every arm, and the infusion gate.
/// </summary>
public abstract class PreparationToBedsideTests : OnEachDatabase
{
    private static readonly (string, string) RecordDeviation = ("\"pastWindow\": \"Refuse\"", "\"pastWindow\": \"RecordDeviation\"");

    private static PharmacyService.PharmacyServiceClient SecondPharmacist(TrialServer server) =>
        server.As(server.Token(TrialRole.Pharmacist, ProductPath.SecondPharmacist)).Pharmacy;

    private static InfusionService.InfusionServiceClient Bedside(TrialServer server, string site = "UM") => server.As(TrialRole.SiteCoordinator, site).Infusion;

    private static ParticipantService.ParticipantServiceClient SiteRecords(TrialServer server, string site = "UM") => server.As(TrialRole.SiteCoordinator, site).Participants;

    private static string ReasonOf(RpcException e) => e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason ?? "";

    /// <summary>Three participants of one stratum randomized with blocks of 3: one of each arm. Answers their ids and arms.</summary>
    private static async Task<List<(string ParticipantId, string Arm)>> ThreeArmsAsync(TrialServer server)
    {
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { BlockSizes = { 3 }, Reason = "bedside tests" });
        var randomized = new List<(string, string)>();
        for (var i = 0; i < 3; i++)
        {
            var id = (await server.Site().RandomizeAsync(Requests.Randomize($"BS-{i}"))).Assignment.ParticipantId;
            randomized.Add((id, (await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id })).ArmCode));
        }
        Assert.Equal(["A", "B", "C"], randomized.Select(r => r.Item2).Order());
        return randomized;
    }

    private static async Task<string> RandomizedAsync(TrialServer server, string screeningId = "BS-1")
    {
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "bedside tests" });
        return (await server.Site().RandomizeAsync(Requests.Randomize(screeningId))).Assignment.ParticipantId;
    }

    private static async Task<List<string>> AuditActionsOfAsync(TrialServer server, string participantId) =>
        [.. (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events
            .Where(e => e.Target == participantId).Select(e => e.Action)];

    [ProviderFact]
    public async Task WholePath_PhaseTwo_EveryArm_ReleasedLotToPreparedCheckedLabelledDispatchedVerifiedAndInfused()
    {
        await using var server = NewServer();
        var participants = await ThreeArmsAsync(server);
        foreach (var (participantId, arm) in participants)
        {
            var prepared = await ProductPath.PrepareAsync(server, participantId);
            Assert.Equal(DoseState.Prepared, prepared.State);
            Assert.Equal(arm == "C", prepared.Placebo);
            Assert.Equal(arm == "C" ? 0 : 1, prepared.UnitIds.Count);
            Assert.Equal(prepared.PreparationStartedAt.ToDateTimeOffset().AddHours(4), prepared.UseBy.ToDateTimeOffset());
            Assert.Single(prepared.Signatures);

            var verified = (await SecondPharmacist(server).VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = prepared.ProductId })).Dose;
            Assert.Equal((DoseState.Verified, ProductPath.SecondPharmacist), (verified.State, verified.VerifiedBy));
            Assert.Equal(2, verified.Signatures.Count);
            var label = await server.Pharmacy().GetLabelAsync(new GetLabelRequest { ProductId = prepared.ProductId });
            Assert.Equal(prepared.ProductId, QrCodes.DecodePng(label.QrPng.ToByteArray()));
            var dispatched = (await server.Pharmacy().DispatchDoseAsync(new DispatchDoseRequest { ProductId = prepared.ProductId, Courier = "courier J. Smith" })).Dose;
            Assert.Equal((DoseState.Dispatched, "courier J. Smith"), (dispatched.State, dispatched.Courier));

            var bedside = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = label.ProductId, ParticipantId = participantId });
            Assert.True(bedside.Confirmed, bedside.Message);
            Assert.Equal(ErrorReason.Unspecified, bedside.RefusalReason);
            var infusion = await SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
                { ParticipantId = participantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) });
            Assert.Equal(participantId, infusion.ParticipantId);

            var final = (await server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = participantId })).Dose;
            Assert.Equal(DoseState.Infused, final.State);
            Assert.Equal("", final.Deviation);
            var actions = await AuditActionsOfAsync(server, participantId);
            Assert.Equal(["participant.randomized", "dose.prepared", "dose.preparation_checked", "dose.dispatched", "bedside.verified", "participant.infused"],
                actions.Where(a => a is not ("dose_order.read" or "dose.preparation_read" or "dose.label_printed")));
            server.Clock.Advance(TimeSpan.FromHours(1));
        }
    }

    [ProviderFact]
    public async Task WholePath_PhaseOne_CohortDose_FromReleasedUnitsToInfusion()
    {
        await using var server = NewServerWithPhaseOne();
        var enrolled = (await server.As(TrialRole.SiteCoordinator, "UM").DoseEscalation.EnrollInCohortAsync(new EnrollInCohortRequest
            { RequestId = Guid.NewGuid().ToString(), SiteCode = "UM", ScreeningId = "C1-0", Eligibility = Requests.Eligible() })).Assignment;
        var units = await ProductPath.ReleasedUnitsAsync(server, 2, 12_000_000);

        var prepared = await ProductPath.PrepareAsync(server, enrolled.ParticipantId, unitIds: units);
        Assert.False(prepared.Placebo);
        Assert.Equal(20_000_000, prepared.RequiredCells);
        Assert.Equal(units, prepared.UnitIds);
        await SecondPharmacist(server).VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = prepared.ProductId });
        var label = await server.Pharmacy().GetLabelAsync(new GetLabelRequest { ProductId = prepared.ProductId });
        Assert.Contains("Randomization number: not randomized (Phase I)", label.Lines);
        await server.Pharmacy().DispatchDoseAsync(new DispatchDoseRequest { ProductId = prepared.ProductId, Courier = "nurse A. Jones" });
        var bedside = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = prepared.ProductId, ParticipantId = enrolled.ParticipantId });
        Assert.True(bedside.Confirmed, bedside.Message);
        await SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = enrolled.ParticipantId, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) });

        Assert.Equal(DoseState.Infused, (await server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = enrolled.ParticipantId })).Dose.State);
        var states = await server.QueryAsync("""SELECT "State" FROM "ProductUnits" ORDER BY "UnitId" """);
        Assert.All(states, row => Assert.Equal("Infused", row[0]));
    }

    [ProviderFact]
    public async Task Infusion_WithoutBedsideVerification_IsRefusedInBothPhases()
    {
        await using var server = NewServer();
        var participant = await RandomizedAsync(server);
        var infuse = () => SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = participant, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) }).ResponseAsync;

        var nothingPrepared = await Assert.ThrowsAsync<RpcException>(infuse);
        await ProductPath.DispatchedAsync(server, participant);
        var notVerified = await Assert.ThrowsAsync<RpcException>(infuse);

        Assert.Equal((StatusCode.FailedPrecondition, "BEDSIDE_VERIFICATION_REQUIRED"), (nothingPrepared.StatusCode, ReasonOf(nothingPrepared)));
        Assert.Equal((StatusCode.FailedPrecondition, "BEDSIDE_VERIFICATION_REQUIRED"), (notVerified.StatusCode, ReasonOf(notVerified)));
        Assert.DoesNotContain("participant.infused", await AuditActionsOfAsync(server, participant));
    }

    [ProviderFact]
    public async Task Bedside_WrongBag_IsRefusedAuditedAndTheBagStaysUnused()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "bedside tests" });
        var first = (await server.Site().RandomizeAsync(Requests.Randomize("BS-1"))).Assignment.ParticipantId;
        var second = (await server.Site().RandomizeAsync(Requests.Randomize("BS-2"))).Assignment.ParticipantId;
        var firstBag = await ProductPath.DispatchedAsync(server, first);

        var wrong = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = firstBag, ParticipantId = second });
        var unknown = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = "CP-0000000000", ParticipantId = second });
        var infuseSecond = await Assert.ThrowsAsync<RpcException>(() => SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = second, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) }).ResponseAsync);

        Assert.False(wrong.Confirmed);
        Assert.Equal(ErrorReason.DoseWrongParticipant, wrong.RefusalReason);
        Assert.Contains("was not prepared for participant " + second, wrong.Message, StringComparison.Ordinal);
        Assert.Null(wrong.UseBy);
        Assert.Equal(ErrorReason.ProductNotFound, unknown.RefusalReason);
        Assert.Equal("BEDSIDE_VERIFICATION_REQUIRED", ReasonOf(infuseSecond));
        Assert.Equal(["bedside.refused", "bedside.refused"], (await AuditActionsOfAsync(server, second)).Where(a => a.StartsWith("bedside", StringComparison.Ordinal)));
        Assert.Equal(DoseState.Dispatched, (await server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = first })).Dose.State);
        // The right participant's check still succeeds.
        Assert.True((await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = firstBag, ParticipantId = first })).Confirmed);
    }

    [ProviderFact]
    public async Task Bedside_AnotherSitesParticipant_IsNotFoundAsIfNone()
    {
        await using var server = NewServer(("{ \"code\": \"UM\", \"name\": \"University of Miami, Interdisciplinary Stem Cell Institute\" }",
            "{ \"code\": \"UM\", \"name\": \"University of Miami\" }, { \"code\": \"JH\", \"name\": \"Second site\" }"));
        var participant = await RandomizedAsync(server);
        var bag = await ProductPath.DispatchedAsync(server, participant);

        var error = await Assert.ThrowsAsync<RpcException>(() => Bedside(server, "JH").VerifyAtBedsideAsync(
            new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = participant }).ResponseAsync);

        Assert.Equal((StatusCode.NotFound, "PARTICIPANT_NOT_FOUND"), (error.StatusCode, ReasonOf(error)));
    }

    [ProviderFact]
    public async Task Bedside_PastTheWindow_TrialRefuses_IsRefusedAndTheInfusionToo()
    {
        await using var server = NewServer();
        var participant = await RandomizedAsync(server);
        var bag = await ProductPath.DispatchedAsync(server, participant);
        server.Clock.Advance(TimeSpan.FromHours(4));

        var late = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = participant });

        Assert.False(late.Confirmed);
        Assert.Equal(ErrorReason.InfusionWindowExpired, late.RefusalReason);
        Assert.Contains("window has passed", late.Message, StringComparison.Ordinal);
        var infuse = await Assert.ThrowsAsync<RpcException>(() => SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = participant, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) }).ResponseAsync);
        Assert.Equal("BEDSIDE_VERIFICATION_REQUIRED", ReasonOf(infuse));
        // The pharmacy takes the bag back and destroys it, with the reasons.
        var returned = (await server.Pharmacy().ReturnDoseAsync(new ReturnDoseRequest { ProductId = bag, Reason = "window passed at the bedside" })).Dose;
        var destroyed = (await server.Pharmacy().DestroyDoseAsync(new DestroyDoseRequest { ProductId = bag, Reason = "expired product" })).Dose;
        Assert.Equal(DoseState.Returned, returned.State);
        Assert.Equal(DoseState.Destroyed, destroyed.State);
        Assert.Contains("expired product", destroyed.ClosedReason, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Bedside_PastTheWindow_TrialRecordsDeviations_IsConfirmedWithTheDeviationRecorded()
    {
        await using var server = NewServer(RecordDeviation);
        var participant = await RandomizedAsync(server);
        var bag = await ProductPath.DispatchedAsync(server, participant);
        server.Clock.Advance(TimeSpan.FromHours(4));

        var late = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = participant });
        await SiteRecords(server).RecordInfusionAsync(new RecordInfusionRequest
            { ParticipantId = participant, InfusedAt = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow()) });

        Assert.True(late.Confirmed);
        Assert.Contains("after its use-by time", late.Deviation, StringComparison.Ordinal);
        var dose = (await server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = participant })).Dose;
        Assert.Equal(DoseState.Infused, dose.State);
        Assert.Contains("verified at the bedside", dose.Deviation, StringComparison.Ordinal);
        Assert.Contains("infusion started", dose.Deviation, StringComparison.Ordinal);
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events;
        Assert.Contains("deviation", events.Single(e => e.Action == "participant.infused").Details, StringComparison.Ordinal);
        Assert.Contains("deviation", events.Single(e => e.Action == "bedside.verified").Details, StringComparison.Ordinal);
    }

    [ProviderFact]
    public async Task Prepare_FromAnUnreleasedLot_OrAQuarantinedUnit_OrTooFewCells_IsRefusedWithTheReason()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { BlockSizes = { 3 }, Reason = "bedside tests" });
        var cells = new List<(string Id, long Count)>();
        for (var i = 0; i < 3; i++)
        {
            var id = (await server.Site().RandomizeAsync(Requests.Randomize($"BS-{i}"))).Assignment.ParticipantId;
            var order = await server.Pharmacy().GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = id });
            if (!order.Placebo) cells.Add((id, order.CellCount));
        }
        var (participant, needed) = cells[0];
        var unreleased = await ProductPath.ReleasedUnitsAsync(server, 1, needed * 2, release: false);
        var quarantined = await ProductPath.ReleasedUnitsAsync(server, 1, needed * 2);
        await ProductPath.ReportExcursionAsync(server, quarantined[0], "temperature excursion in transit");
        var small = await ProductPath.ReleasedUnitsAsync(server, 1, needed / 2);

        var fromUnreleased = await Assert.ThrowsAsync<RpcException>(() => ProductPath.PrepareAsync(server, participant, unitIds: unreleased));
        var fromQuarantined = await Assert.ThrowsAsync<RpcException>(() => ProductPath.PrepareAsync(server, participant, unitIds: quarantined));
        var tooFew = await Assert.ThrowsAsync<RpcException>(() => ProductPath.PrepareAsync(server, participant, unitIds: small));

        Assert.Equal((StatusCode.FailedPrecondition, "UNIT_NOT_USABLE"), (fromUnreleased.StatusCode, ReasonOf(fromUnreleased)));
        Assert.Equal((StatusCode.FailedPrecondition, "UNIT_NOT_USABLE"), (fromQuarantined.StatusCode, ReasonOf(fromQuarantined)));
        Assert.Contains("quarantine", fromQuarantined.Status.Detail, StringComparison.Ordinal);
        Assert.Equal((StatusCode.FailedPrecondition, "PRODUCT_CELLS_INSUFFICIENT"), (tooFew.StatusCode, ReasonOf(tooFew)));
        Assert.DoesNotContain("dose.prepared", await AuditActionsOfAsync(server, participant));
        Assert.Empty(await server.QueryAsync("""SELECT "Id" FROM "DosePreparations" """));
        // The usable units were not touched by the refused preparations.
        Assert.All(await server.QueryAsync($"""SELECT "State" FROM "ProductUnits" WHERE "UnitId" = '{small[0]}' OR "UnitId" = '{unreleased[0]}'"""),
            row => Assert.NotEqual("Reserved", row[0]));
    }

    [ProviderFact]
    public async Task Prepare_ASecondTimeForTheSameOrder_IsRefusedUntilTheFirstIsDestroyed()
    {
        await using var server = NewServer();
        var participant = await RandomizedAsync(server);
        var first = await ProductPath.PrepareAsync(server, participant);

        var second = await Assert.ThrowsAsync<RpcException>(() => ProductPath.PrepareAsync(server, participant));
        await server.Pharmacy().DestroyDoseAsync(new DestroyDoseRequest { ProductId = first.ProductId, Reason = "bag damaged during preparation" });
        var replacement = await ProductPath.PrepareAsync(server, participant);

        Assert.Equal((StatusCode.AlreadyExists, "DOSE_ALREADY_PREPARED"), (second.StatusCode, ReasonOf(second)));
        Assert.Contains(first.ProductId, second.Status.Detail, StringComparison.Ordinal);
        Assert.NotEqual(first.ProductId, replacement.ProductId);
        Assert.Equal(DoseState.Prepared, replacement.State);
    }

    [ProviderFact]
    public async Task Verify_ByThePharmacistWhoPrepared_IsRefused_ADifferentPharmacistChecks()
    {
        await using var server = NewServer();
        var participant = await RandomizedAsync(server);
        var dose = await ProductPath.PrepareAsync(server, participant);

        var own = await Assert.ThrowsAsync<RpcException>(() => server.Pharmacy().VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = dose.ProductId }).ResponseAsync);
        var dispatchUnchecked = await Assert.ThrowsAsync<RpcException>(() => server.Pharmacy().DispatchDoseAsync(
            new DispatchDoseRequest { ProductId = dose.ProductId, Courier = "courier" }).ResponseAsync);
        var checkedDose = (await SecondPharmacist(server).VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = dose.ProductId })).Dose;

        Assert.Equal((StatusCode.PermissionDenied, "SECOND_PHARMACIST_REQUIRED"), (own.StatusCode, ReasonOf(own)));
        Assert.Equal((StatusCode.FailedPrecondition, "DOSE_NOT_RELEASED"), (dispatchUnchecked.StatusCode, ReasonOf(dispatchUnchecked)));
        Assert.Equal(DoseState.Verified, checkedDose.State);
        Assert.Equal([dose.PreparedBy, ProductPath.SecondPharmacist], checkedDose.Signatures.Select(s => s.UserName));
    }

    [ProviderFact]
    public async Task Bedside_NotDispatched_IsRefusedWithTheReason()
    {
        await using var server = NewServer();
        var participants = await ThreeArmsAsync(server);
        var (other, _) = participants.First(p => p.Arm == "C");
        var notDispatched = await ProductPath.PrepareAsync(server, other);
        await SecondPharmacist(server).VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = notDispatched.ProductId });

        var undispatched = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = notDispatched.ProductId, ParticipantId = other });

        Assert.Equal(ErrorReason.DoseStateNotAllowed, undispatched.RefusalReason);
        Assert.Contains("not recorded as dispatched", undispatched.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A lot quarantined after a bag was made from it: the bedside does not read lots (a placebo bag has none, so a
    /// lot-based refusal would tell the site its bag holds cells). The pharmacy recalls the bag, and the bedside refuses
    /// it exactly as it refuses a placebo bag the pharmacy took back.
    /// </summary>
    [ProviderFact]
    public async Task Bedside_BagFromALotQuarantinedSince_IsConfirmedLikeAPlaceboBag_UntilThePharmacyRecallsIt_ThenRefusedLikeAReturnedPlacebo()
    {
        await using var server = NewServer();
        var participants = await ThreeArmsAsync(server);
        var (cells, _) = participants.First(p => p.Arm != "C");
        var (placebo, _) = participants.First(p => p.Arm == "C");
        var cellBag = await ProductPath.DispatchedAsync(server, cells);
        var placeboBag = await ProductPath.DispatchedAsync(server, placebo);
        var unit = (await server.Pharmacy().GetPreparationAsync(new GetPreparationRequest { ParticipantId = cells })).Dose.UnitIds[0];
        await ProductPath.QuarantineLotOfAsync(server, unit, "sterility test positive");

        var confirmed = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = cellBag, ParticipantId = cells });
        var placeboConfirmed = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = placeboBag, ParticipantId = placebo });
        await server.Pharmacy().ReturnDoseAsync(new ReturnDoseRequest { ProductId = cellBag, Reason = "recalled: lot quarantined" });
        await server.Pharmacy().ReturnDoseAsync(new ReturnDoseRequest { ProductId = placeboBag, Reason = "recalled: lot quarantined" });
        var recalled = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = cellBag, ParticipantId = cells });
        var placeboRecalled = await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = placeboBag, ParticipantId = placebo });

        Assert.True(confirmed.Confirmed);
        Assert.True(placeboConfirmed.Confirmed);
        Assert.Equal(ErrorReason.DoseStateNotAllowed, recalled.RefusalReason);
        Assert.Equal(recalled.RefusalReason, placeboRecalled.RefusalReason);
        Assert.Equal(recalled.Message.Replace(cellBag, "BAG", StringComparison.Ordinal), placeboRecalled.Message.Replace(placeboBag, "BAG", StringComparison.Ordinal));
    }

    [ProviderFact]
    public async Task Labels_OfTheThreeArms_DifferOnlyInIdentifiersAndTimes_AndTheQrCodeIsTheProductIdOnly()
    {
        await using var server = NewServer();
        var participants = await ThreeArmsAsync(server);
        var labels = new List<GetLabelResponse>();
        foreach (var (participantId, _) in participants)
        {
            var dose = await ProductPath.PrepareAsync(server, participantId);
            labels.Add(await server.Pharmacy().GetLabelAsync(new GetLabelRequest { ProductId = dose.ProductId }));
        }

        foreach (var label in labels)
        {
            Assert.Equal(label.ProductId, QrCodes.DecodePng(label.QrPng.ToByteArray()));
            Assert.Equal(label.ProductId, QrCodes.DecodeSvg(label.QrSvg));
            Assert.Matches("^CP-[0-9A-Z]{10}$", label.ProductId);
            Assert.False(BlindingTests.Treatment().IsMatch(JsonFormatter.Default.Format(label)), "a label states a treatment");
            Assert.DoesNotContain("cells", string.Join('\n', label.Lines), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(" mL", string.Join('\n', label.Lines), StringComparison.Ordinal);
        }
        // With the identifiers and times blanked, the three labels are the same, line for line and field for field.
        static string Blanked(GetLabelResponse l)
        {
            var text = string.Join('\n', l.Lines).Replace(l.ParticipantId, "<participant>", StringComparison.Ordinal)
                .Replace(l.RandomizationNumber, "<number>", StringComparison.Ordinal).Replace(l.ProductId, "<product>", StringComparison.Ordinal);
            return System.Text.RegularExpressions.Regex.Replace(text, @"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "<time>");
        }
        Assert.Single(labels.Select(Blanked).Distinct());
        Assert.Single(labels.Select(l => (l.Trial, l.Storage, l.SiteCode, l.Lines.Count, l.QrSvg.Length > 0)).Distinct());
        Assert.Single(labels.Select(l => (l.ProductId.Length, l.ParticipantId.Length, l.RandomizationNumber.Length)).Distinct());
        // Use-by is preparation start plus the window for every arm, the placebo too.
        Assert.All(labels, l => Assert.Equal(server.Clock.GetUtcNow().AddMinutes(-30).AddHours(4), l.UseBy.ToDateTimeOffset()));
    }

    [ProviderFact]
    public async Task Bedside_Replies_AreTheSameFieldsAndSizeForEveryArm_AndStateNoTreatment()
    {
        await using var server = NewServer();
        var participants = await ThreeArmsAsync(server);
        var replies = new List<VerifyAtBedsideResponse>();
        var refusals = new List<VerifyAtBedsideResponse>();
        var bags = new List<string>();
        foreach (var (participantId, _) in participants) bags.Add(await ProductPath.DispatchedAsync(server, participantId));
        for (var i = 0; i < 3; i++)
        {
            refusals.Add(await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bags[(i + 1) % 3], ParticipantId = participants[i].ParticipantId }));
            replies.Add(await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bags[i], ParticipantId = participants[i].ParticipantId }));
        }

        foreach (var reply in replies.Concat(refusals))
            Assert.False(BlindingTests.Treatment().IsMatch(JsonFormatter.Default.Format(reply)), $"a bedside reply states a treatment: {reply}");
        Assert.All(refusals, r => Assert.DoesNotContain("unit", r.Message, StringComparison.OrdinalIgnoreCase));
        Assert.Single(replies.Select(r => r.CalculateSize()).Distinct());
        Assert.Single(refusals.Select(r => r.CalculateSize()).Distinct());
    }

    [ProviderFact]
    public async Task Preparation_AsAnotherRole_IsPermissionDenied_AndTheBedsideIsNotThePharmacys()
    {
        await using var server = NewServer();
        var participant = await RandomizedAsync(server);
        var bag = await ProductPath.DispatchedAsync(server, participant);

        var coordinatorLabel = await Assert.ThrowsAsync<RpcException>(() => new PharmacyService.PharmacyServiceClient(server.Channel(TrialRole.SiteCoordinator, "UM"))
            .GetLabelAsync(new GetLabelRequest { ProductId = bag }).ResponseAsync);
        var pharmacistBedside = await Assert.ThrowsAsync<RpcException>(() => server.As(TrialRole.Pharmacist).Infusion.VerifyAtBedsideAsync(
            new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = participant }).ResponseAsync);

        Assert.Equal((StatusCode.PermissionDenied, "ROLE_NOT_PERMITTED"), (coordinatorLabel.StatusCode, ReasonOf(coordinatorLabel)));
        Assert.Equal((StatusCode.PermissionDenied, "ROLE_NOT_PERMITTED"), (pharmacistBedside.StatusCode, ReasonOf(pharmacistBedside)));
    }

    [ProviderFact]
    public async Task Bedside_Refusal_IsAnnouncedToThePharmacyAndTheSponsor_NotTheSite_AndStatesNoTreatment_AQuarantineToThePharmacyAlone()
    {
        using var smtp = new SmtpReceiver();
        var settings = new Dictionary<string, string>
        {
            ["Notifications:PollInterval"] = "00:00:00.100",
            ["Notifications:Smtp:Host"] = "127.0.0.1",
            ["Notifications:Smtp:Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Notifications:Smtp:Security"] = "None",
            ["Notifications:Smtp:From"] = "cratus@trial.example.org",
        };
        var recipients = new[] { ("pharmacy", "Pharmacist", "pharmacy@example.org"), ("sponsor", "Sponsor", "sponsor@example.org"), ("um", "Investigator", "um@example.org") };
        for (var i = 0; i < recipients.Length; i++)
        {
            settings[$"Notifications:Recipients:{i}:Name"] = recipients[i].Item1;
            settings[$"Notifications:Recipients:{i}:Audience"] = recipients[i].Item2;
            settings[$"Notifications:Recipients:{i}:Email"] = recipients[i].Item3;
            if (recipients[i].Item2 == "Investigator") settings[$"Notifications:Recipients:{i}:Site"] = "UM";
        }
        await using var server = NewServer(false, settings);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "bedside tests" });
        var first = (await server.Site().RandomizeAsync(Requests.Randomize("BS-1"))).Assignment.ParticipantId;
        var second = (await server.Site().RandomizeAsync(Requests.Randomize("BS-2"))).Assignment.ParticipantId;
        var bag = await ProductPath.DispatchedAsync(server, first);

        await Bedside(server).VerifyAtBedsideAsync(new VerifyAtBedsideRequest { ProductId = bag, ParticipantId = second });

        static string EventOf(netDumbster.smtp.SmtpMessage m) => m.Headers[Notifications.NotificationHeaders.Event] ?? "";
        await Eventually.HoldsAsync(() => smtp.To("pharmacy@example.org").Any(m => EventOf(m) == "bedside.refused")
            && smtp.To("sponsor@example.org").Any(m => EventOf(m) == "bedside.refused"), "the refusal announced");
        Assert.DoesNotContain(smtp.To("um@example.org"), m => EventOf(m) == "bedside.refused");
        var raw = smtp.To("pharmacy@example.org").First(m => EventOf(m) == "bedside.refused").Data;
        var message = MimeKit.MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(raw))).TextBody ?? "";
        Assert.Contains(second, message, StringComparison.Ordinal);
        Assert.Contains(bag, message, StringComparison.Ordinal);
        Assert.False(BlindingTests.Treatment().IsMatch(message), "the bedside refusal states a treatment");

        // A lot taken out of use is announced to the pharmacy alone, naming the lot and never a bag or a participant.
        var unit = (await ProductPath.ReleasedUnitsAsync(server, 1, 250_000_000))[0];
        await ProductPath.QuarantineLotOfAsync(server, unit, "sterility test positive");
        await Eventually.HoldsAsync(() => smtp.To("pharmacy@example.org").Any(m => EventOf(m) == "product.quarantined"), "the quarantine announced to the pharmacy");
        var recall = MimeKit.MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(
            smtp.To("pharmacy@example.org").First(m => EventOf(m) == "product.quarantined").Data))).TextBody ?? "";
        Assert.Contains("sterility test positive", recall, StringComparison.Ordinal);
        Assert.Contains(unit[..unit.LastIndexOf('-')], recall, StringComparison.Ordinal);
        Assert.DoesNotContain(bag, recall, StringComparison.Ordinal);
        Assert.DoesNotContain(first, recall, StringComparison.Ordinal);
        Assert.DoesNotContain(smtp.To("sponsor@example.org"), m => EventOf(m) == "product.quarantined");
        Assert.DoesNotContain(smtp.To("um@example.org"), m => EventOf(m) == "product.quarantined");
    }
}

public sealed class PreparationToBedsideTestsOnSqlite : PreparationToBedsideTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class PreparationToBedsideTestsOnPostgreSql : PreparationToBedsideTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}
