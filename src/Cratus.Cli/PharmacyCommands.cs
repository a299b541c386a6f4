using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>
/// The pharmacy's prepared doses (pharmacists, unblinded): prepare, the second pharmacist's check, the label, dispatch,
/// return and destruction; and the site's check at the bedside (blinded).
/// </summary>
public static class PharmacyCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, Signing signing)
    {
        var participant = new Argument<string>("participant-id") { Description = "The participant whose dose this is" };
        var product = new Argument<string>("product-id") { Description = "The prepared dose's product id (CP-...), as on its label" };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };

        var units = new Option<string[]>("--unit") { Description = "A unit used (repeat for each); none for the placebo", AllowMultipleArgumentsPerToken = true };
        var started = new Option<string?>("--started-at") { Description = "Thaw start (placebo: preparation start), ISO 8601 with offset (default: now on the trial clock)" };
        var postThawCount = new Option<long?>("--post-thaw-cells") { Description = "Cells counted after thaw" };
        var viability = new Option<string?>("--viability") { Description = "Post-thaw viability in percent, such as 91.5" };
        var finalCells = new Option<long?>("--final-cells") { Description = "Cells in the final product" };
        var volume = new Option<string?>("--volume-ml") { Description = "Volume of the final product in mL, such as 20" };
        var prepare = new Command("prepare", "Record the preparation of a participant's dose (pharmacists; signed by the preparer).")
            { participant, units, started, postThawCount, viability, finalCells, volume, signing.Meaning };
        prepare.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var participantId = p.GetValue(participant)!;
            var request = new RecordPreparationRequest
            {
                ParticipantId = participantId,
                UnitIds = { p.GetValue(units) ?? [] },
                PreparationStartedAt = Timestamp.FromDateTimeOffset(await TimeOrNowAsync(s, p.GetValue(started), "--started-at", ct)),
            };
            if (p.GetValue(postThawCount) is not null || p.GetValue(finalCells) is not null)
                request.Measurements = new CellMeasurements
                {
                    PostThawCellCount = p.GetValue(postThawCount) ?? 0, PostThawViabilityPercent = p.GetValue(viability) ?? "",
                    FinalCells = p.GetValue(finalCells) ?? 0, VolumeMl = p.GetValue(volume) ?? "",
                };
            request.Signature = await signing.SignAsync(s, p, SignedAction.DosePreparation, participantId, ct);
            var reply = await Client(s).RecordPreparationAsync(request, cancellationToken: ct);
            s.Print(reply, [.. DoseRows(reply.Dose), ("Next", $"a second pharmacist runs: cratus pharmacy verify {reply.Dose.ProductId}")]);
        });

        var verify = new Command("verify", "Check a dose another pharmacist prepared (the two-person check; signed).") { product, signing.Meaning };
        verify.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var productId = p.GetValue(product)!;
            var signature = await signing.SignAsync(s, p, SignedAction.PreparationCheck, productId, ct);
            var reply = await Client(s).VerifyPreparationAsync(new VerifyPreparationRequest { ProductId = productId, Signature = signature }, cancellationToken: ct);
            s.Print(reply, DoseRows(reply.Dose));
        });

        var show = new Command("show", "Show a participant's latest prepared dose.") { participant };
        show.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await Client(s).GetPreparationAsync(new GetPreparationRequest { ParticipantId = p.GetValue(participant)! }, cancellationToken: ct);
            s.Print(reply, DoseRows(reply.Dose));
        });

        var svgOut = new Option<string?>("--svg") { Description = "Write the QR code as SVG to this file" };
        var pngOut = new Option<string?>("--png") { Description = "Write the QR code as PNG to this file" };
        var label = new Command("label", "Print a dose's label (the same fields for every arm; the QR code holds the product id only).") { product, svgOut, pngOut };
        label.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await Client(s).GetLabelAsync(new GetLabelRequest { ProductId = p.GetValue(product)! }, cancellationToken: ct);
            if (p.GetValue(svgOut) is { } svg) await File.WriteAllTextAsync(svg, reply.QrSvg, ct);
            if (p.GetValue(pngOut) is { } png) await File.WriteAllBytesAsync(png, reply.QrPng.ToByteArray(), ct);
            s.Print(reply, [.. reply.Lines.Select(l => l.Split(": ", 2) is [var k, var v] ? (k, v) : ("", l))]);
        });

        var courier = new Option<string>("--courier") { Description = "The courier or person who carries the dose to the site", Required = true };
        var dispatchedAt = new Option<string?>("--at") { Description = "When it left the pharmacy, ISO 8601 with offset (default: now)" };
        var dispatch = new Command("dispatch", "Record the hand-over of a checked dose to the site.") { product, courier, dispatchedAt };
        dispatch.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new DispatchDoseRequest { ProductId = p.GetValue(product)!, Courier = p.GetValue(courier)! };
            if (p.GetValue(dispatchedAt) is { } text) request.DispatchedAt = Timestamp.FromDateTimeOffset(Parse(text, "--at"));
            var reply = await Client(s).DispatchDoseAsync(request, cancellationToken: ct);
            s.Print(reply, DoseRows(reply.Dose));
        });

        var back = new Command("return", "Record that an unused dose came back to the pharmacy.") { product, reason };
        back.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await Client(s).ReturnDoseAsync(new ReturnDoseRequest { ProductId = p.GetValue(product)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, DoseRows(reply.Dose));
        });

        var destroy = new Command("destroy", "Record the destruction of an unused, expired or returned dose.") { product, reason };
        destroy.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await Client(s).DestroyDoseAsync(new DestroyDoseRequest { ProductId = p.GetValue(product)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, DoseRows(reply.Dose));
        });

        var pharmacy = new Command("pharmacy", "Prepared doses: prepare, verify, label, dispatch, return, destroy (pharmacists).")
        {
            prepare, verify, show, label, dispatch, back, destroy,
        };

        var scanned = new Argument<string>("product-id") { Description = "The product id scanned from the bag's QR code" };
        var wristband = new Option<string>("--participant") { Description = "The participant's identifier (wristband or record)", Required = true };
        var bedsideVerify = new Command("verify", "Check the bag against the participant before the infusion (site roles).") { scanned, wristband };
        bedsideVerify.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InfusionService.InfusionServiceClient(s.Channel()).VerifyAtBedsideAsync(
                new VerifyAtBedsideRequest { ProductId = p.GetValue(scanned)!, ParticipantId = p.GetValue(wristband)! }, cancellationToken: ct);
            s.Print(reply, [
                ("Result", reply.Confirmed ? "VERIFIED: this bag is for this participant" : "REFUSED: do not infuse"),
                ("Reason", reply.Confirmed ? "" : reply.RefusalReason.ToString()),
                ("Message", reply.Message),
                ("Product id", reply.ProductId),
                ("Participant", reply.ParticipantId),
                ("Use by (UTC)", UnblindingCommands.Time(reply.UseBy)),
                ("Deviation", reply.Deviation),
            ]);
            if (!reply.Confirmed) throw new CliException($"refused at the bedside: {reply.Message}");
        });
        var bedside = new Command("bedside", "At the bedside: verify the bag against the participant (site roles).") { bedsideVerify };
        return [pharmacy, bedside];
    }

    private static PharmacyService.PharmacyServiceClient Client(CliSession s) => new(s.Channel());

    private static async Task<DateTimeOffset> TimeOrNowAsync(CliSession s, string? text, string option, CancellationToken ct) => text is not null
        ? Parse(text, option)
        : (await new RehearsalService.RehearsalServiceClient(s.Channel()).GetTrialClockAsync(new GetTrialClockRequest(), cancellationToken: ct)).Clock.TrialTime.ToDateTimeOffset();

    private static DateTimeOffset Parse(string text, string option) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed)
            ? parsed
            : throw new CliException($"{option} must be a date and time such as 2026-11-22T09:30:00-05:00");

    private static IReadOnlyList<(string, string)> DoseRows(PreparedDose d) =>
    [
        ("Product id", d.ProductId),
        ("Participant", d.ParticipantId),
        ("Site", d.SiteCode),
        ("State", d.State.ToString()),
        ("Dose", d.Placebo ? "matched placebo" : $"{d.RequiredCells:N0} cells"),
        ("Units", string.Join(' ', d.UnitIds)),
        ("Post-thaw", d.Measurements is { } m ? $"{m.PostThawCellCount:N0} cells, {m.PostThawViabilityPercent}% viable" : ""),
        ("Final", d.Measurements is { } f ? $"{f.FinalCells:N0} cells in {f.VolumeMl} mL" : ""),
        ("Started (UTC)", UnblindingCommands.Time(d.PreparationStartedAt)),
        ("Use by (UTC)", UnblindingCommands.Time(d.UseBy)),
        ("Prepared by", d.PreparedBy),
        ("Verified by", d.VerifiedBy),
        ("Courier", d.Courier),
        ("Deviation", d.Deviation),
        ("Closed", d.ClosedReason),
        .. d.Signatures.Select(sig => ("Signature", sig.Text)),
    ];
}
