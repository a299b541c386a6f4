using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>
/// The cell product's inventory (InventoryService: register, release, quarantine, excursion, return, destroy, list) and
/// its chain of custody (ChainOfCustodyService: <c>cratus product history</c>).
/// </summary>
public static class InventoryCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, Signing signing)
    {
        var inventory = new Command("inventory", "The cell product's lots and units: register (pharmacy), release and quarantine (quality assurance), excursions, returns, destruction.");
        var lotNumber = new Argument<string>("lot-number") { Description = "The lot number" };
        var unitId = new Argument<string>("unit-id") { Description = "The unit's ISBT 128 DIN (with its check character) or sponsor id" };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };

        var donor = new Option<string>("--donor") { Description = "The donor's code (never a name)", Required = true };
        var product = new Option<string>("--product-code") { Description = "The ISBT 128 product code (for example E0001V00)", Required = true };
        var expiry = new Option<string>("--expiry") { Description = "The lot's expiry: a UTC date (2027-06-30) or time (2027-06-30T12:00:00Z)", Required = true };
        var units = new Option<string[]>("--unit")
        {
            Description = "One unit, repeated for each: \"UNIT-ID,CELLS,VIABILITY%,STORAGE LOCATION\" (for example \"G123498654321H,100000000,93.5,LN2 tank 1 box 4\")",
            Required = true, AllowMultipleArgumentsPerToken = false,
        };
        var register = new Command("register-lot", "Register a lot and its units, in quarantine until quality assurance releases it (pharmacists).") { lotNumber, donor, product, expiry, units };
        register.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new RegisterLotRequest { LotNumber = p.GetValue(lotNumber)!, DonorCode = p.GetValue(donor)!, ProductCode = p.GetValue(product)!, Expiry = Time(p.GetValue(expiry)!) };
            foreach (var unit in p.GetValue(units)!) request.Units.Add(Unit(unit));
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).RegisterLotAsync(request, cancellationToken: ct);
            PrintLot(s, reply, reply.Lot);
        });

        var exceptional = new Option<string?>("--exceptional") { Description = "An exceptional release, with its justification (a release criterion is not met)" };
        var release = new Command("release-lot", "Release a lot (quality assurance; signed): its units in quarantine become usable, except those with a reported excursion.")
            { lotNumber, exceptional, signing.Meaning };
        release.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var number = p.GetValue(lotNumber)!;
            var signature = await signing.SignAsync(s, p, SignedAction.LotRelease, number, ct);
            var justification = p.GetValue(exceptional);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).ReleaseLotAsync(new ReleaseLotRequest
                { LotNumber = number, Exceptional = justification is not null, Justification = justification ?? "", Signature = signature }, cancellationToken: ct);
            PrintLot(s, reply, reply.Lot);
        });

        var quarantine = new Command("quarantine-lot", "Quarantine a lot (quality assurance): none of its units is usable until released again.") { lotNumber, reason };
        quarantine.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).QuarantineLotAsync(
                new QuarantineLotRequest { LotNumber = p.GetValue(lotNumber)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            PrintLot(s, reply, reply.Lot);
        });

        var excursionUnit = new Option<string?>("--unit") { Description = "The unit concerned" };
        var excursionLot = new Option<string?>("--lot") { Description = "The whole lot concerned" };
        var kind = new Option<string>("--kind") { Description = "temperature or damage", Required = true };
        kind.AcceptOnlyFromAmong("temperature", "damage");
        var excursion = new Command("report-excursion", "Report a temperature excursion or damage of one unit (--unit) or a whole lot (--lot): the units are held in quarantine.")
            { excursionUnit, excursionLot, kind, reason };
        excursion.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).ReportExcursionAsync(new ReportExcursionRequest
            {
                UnitId = p.GetValue(excursionUnit) ?? "", LotNumber = p.GetValue(excursionLot) ?? "", Reason = p.GetValue(reason)!,
                Kind = p.GetValue(kind) == "damage" ? ExcursionKind.Damage : ExcursionKind.Temperature,
            }, cancellationToken: ct);
            PrintLot(s, reply, reply.Lot);
        });

        var returnUnit = new Command("return-unit", "Record a dispensed unit coming back unused (pharmacists).") { unitId, reason };
        returnUnit.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).ReturnUnitAsync(
                new ReturnUnitRequest { UnitId = p.GetValue(unitId)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, UnitRows(reply.Unit));
        });

        var destroy = new Command("destroy-unit", "Destroy a unit (expired, damaged, returned), with the reason (pharmacists).") { unitId, reason };
        destroy.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).DestroyUnitAsync(
                new DestroyUnitRequest { UnitId = p.GetValue(unitId)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, UnitRows(reply.Unit));
        });

        var list = new Command("list-lots", "The lots, newest first, with each unit's state.");
        list.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new InventoryService.InventoryServiceClient(s.Channel()).ListLotsAsync(new ListLotsRequest(), cancellationToken: ct);
            s.PrintTable(reply, ["LOT", "UNIT", "STATE", "CELLS", "VIABILITY", "EXPIRY (UTC)", "STORAGE", "LOT STATUS"],
                reply.Lots.SelectMany(l => l.Units.Select(u => (IReadOnlyList<string>)[
                    l.LotNumber, u.UnitId, StateWords(u.State), u.CellsPerUnit.ToString("N0", CultureInfo.InvariantCulture),
                    u.ViabilityPercent.ToString("0.0", CultureInfo.InvariantCulture) + "%", UnblindingCommands.Time(u.Expiry), u.StorageLocation, LotStatus(l)])).ToList());
        });

        foreach (var command in new[] { register, release, quarantine, excursion, returnUnit, destroy, list }) inventory.Subcommands.Add(command);

        var productCommand = new Command("product", "The cell product's chain of custody.");
        var historyUnit = new Option<string?>("--unit") { Description = "A unit's history (DIN or sponsor id)" };
        var historyParticipant = new Option<string?>("--participant") { Description = "A participant's doses" };
        var historyProduct = new Option<string?>("--product") { Description = "A prepared product (CP-..., as on the bag's label)" };
        var history = new Command("history", "Every event of a unit, a participant's doses or one prepared product, in order, with who, when, why and the audit event (blinded unless you are the pharmacy).")
            { historyUnit, historyParticipant, historyProduct };
        history.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new ChainOfCustodyService.ChainOfCustodyServiceClient(s.Channel()).GetProductHistoryAsync(new GetProductHistoryRequest
                { UnitId = p.GetValue(historyUnit) ?? "", ParticipantId = p.GetValue(historyParticipant) ?? "", ProductId = p.GetValue(historyProduct) ?? "" }, cancellationToken: ct);
            s.PrintTable(reply, ["WHEN (UTC)", "EVENT", "BY", "ROLE", "WHY", "LOT", "UNIT", "PRODUCT", "PARTICIPANT", "AUDIT #", "DETAIL"],
                reply.Events.Select(e => (IReadOnlyList<string>)[
                    e.At is null ? "-" : UnblindingCommands.Time(e.At), e.Description, e.By, e.Role, e.Reason, e.LotNumber, e.UnitId, e.ProductId, e.ParticipantId,
                    e.AuditSequence == 0 ? "" : e.AuditSequence.ToString(CultureInfo.InvariantCulture), e.Detail]).ToList());
            if (reply.Blinded) s.Note("Blinded view: dose-level events only; no units, cells, volume or viability.");
        });
        productCommand.Subcommands.Add(history);
        return [inventory, productCommand];
    }

    /// <summary>"UNIT-ID,CELLS,VIABILITY%,STORAGE" as one unit to register.</summary>
    private static UnitToRegister Unit(string text)
    {
        var parts = text.Split(',', 4, StringSplitOptions.TrimEntries);
        if (parts.Length != 4 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var cells)
            || !double.TryParse(parts[2].TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var viability))
            throw new CliException($"--unit \"{text}\" must read \"UNIT-ID,CELLS,VIABILITY%,STORAGE LOCATION\", for example \"G123498654321H,100000000,93.5,LN2 tank 1 box 4\".");
        return new UnitToRegister { UnitId = parts[0], CellsPerUnit = cells, ViabilityPercent = viability, StorageLocation = parts[3] };
    }

    private static Timestamp Time(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? Timestamp.FromDateTimeOffset(t)
            : throw new CliException($"--expiry \"{text}\" is not a date or time (2027-06-30 or 2027-06-30T12:00:00Z).");

    private static string StateWords(UnitState state) => state switch
    {
        UnitState.InQuarantine => "in quarantine",
        UnitState.Issued => "issued",
        _ => state.ToString().ToLowerInvariant(),
    };

    private static string LotStatus(ProductLot l) =>
        l.Expired ? "expired" : l.Quarantined ? "quarantined" : l.Released ? (l.ExceptionalRelease ? "released (exceptional)" : "released") : "awaiting release";

    private static IReadOnlyList<(string, string)> UnitRows(ProductUnit u) =>
    [
        ("Unit", u.UnitId), ("Lot", u.LotNumber), ("State", StateWords(u.State)), ("Usable", u.Usable ? "yes" : "no"),
        ("Cells", u.CellsPerUnit.ToString("N0", CultureInfo.InvariantCulture)), ("Expiry", UnblindingCommands.Time(u.Expiry)), ("Storage", u.StorageLocation),
    ];

    private static void PrintLot(CliSession s, Google.Protobuf.IMessage reply, ProductLot l) =>
        s.Print(reply,
        [
            ("Lot", l.LotNumber), ("Donor", l.DonorCode), ("Product code", l.ProductCode), ("Expiry", UnblindingCommands.Time(l.Expiry)), ("Status", LotStatus(l)),
            ("Usable units", $"{l.UsableUnits} of {l.Units.Count}"),
            .. l.ExceptionalRelease ? [("Justification", l.ReleaseJustification)] : Array.Empty<(string, string)>(),
            .. l.Quarantined ? [("Quarantine reason", l.QuarantineReason)] : Array.Empty<(string, string)>(),
            .. Signing.Rows(l.ReleaseSignature),
            .. l.Units.Select(u => ($"Unit {u.UnitId}", $"{StateWords(u.State)}; {u.CellsPerUnit.ToString("N0", CultureInfo.InvariantCulture)} cells; {u.StorageLocation}")),
        ]);
}
