using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Inventory;

/// <summary>One unit to register: DIN or sponsor id, cells, viability at release, storage, and its own earlier expiry if any.</summary>
public sealed record UnitInput(string UnitId, long CellsPerUnit, decimal ViabilityPercent, string StorageLocation, TimeInput Expiry);

/// <summary>A lot to register with its units.</summary>
public sealed record RegisterLotCommand(string LotNumber, string DonorCode, string ProductCode, TimeInput Expiry, IReadOnlyList<UnitInput> Units);

/// <summary>
/// The pharmacy registers a donor lot and its units, all in quarantine until quality assurance releases the lot. A
/// unit id in the DIN's form must carry its right ISO 7064 mod 37-2 check character (DONATION_NUMBER_INVALID names the
/// right one); a lot number or unit id registered before is refused (LOT_EXISTS, UNIT_EXISTS), and so is one given
/// twice. One audit event, and a chain-of-custody event for the lot and each unit, linked to it.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class RegisterLot(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing) : UseCase<RegisterLotCommand, LotView>
{
    /// <summary>The most units one lot registers at once.</summary>
    public const int MaxUnits = 500;

    protected override async Task<LotView> ExecuteAsync(Caller caller, RegisterLotCommand command, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var expiry = command.Expiry.Read("expiry") ?? throw TrialRuleException.Invalid("expiry", "expiry is required: the lot's expiry date and time (UTC).");
        var unitExpiries = command.Units.Select((u, i) => u.Expiry.Read($"units[{i}].expiry")).ToList();
        if (command.Units.Count is 0 or > MaxUnits) throw TrialRuleException.Invalid("units", $"A lot is registered with 1 to {MaxUnits} units.");
        var dins = command.Units.Select((u, i) => (u, i))
            .Where(x => DonationIdentificationNumber.LooksLikeDin(x.u.UnitId) && !DonationIdentificationNumber.IsValid(x.u.UnitId))
            .Select(x => new FieldViolation($"units[{x.i}].unit_id", ProductUnit.UnitIdProblem(x.u.UnitId)!)).ToList();
        if (dins.Count > 0) throw new TrialRuleException(RefusalReason.DonationNumberInvalid, string.Join(" ", dins.Select(d => d.Description)), dins);
        var twice = command.Units.Select((u, i) => (u, i)).GroupBy(x => x.u.UnitId?.Trim(), StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (twice.Count > 0)
            throw new TrialRuleException(RefusalReason.RequestInvalid, $"Each unit is registered once; given more than once: {string.Join(", ", twice.Select(g => g.Key))}.",
                twice.Select(g => new FieldViolation($"units[{g.Skip(1).First().i}].unit_id", $"unit {g.Key} is given more than once")).ToList());

        var actor = caller.Actor;
        var lot = await db.InTransactionAsync(async t =>
        {
            var lot = ProductLot.Register(command.LotNumber, command.DonorCode, command.ProductCode, expiry, actor, now);
            var units = command.Units.Select((u, i) => ProductUnit.Register(lot, u.UnitId?.Trim() ?? "", u.CellsPerUnit, u.ViabilityPercent, unitExpiries[i], u.StorageLocation, $"units[{i}]")).ToList();
            if (await db.ProductLots.AnyAsync(l => l.LotNumber == lot.LotNumber, t))
                throw new TrialRuleException(RefusalReason.LotExists, $"Lot {lot.LotNumber} is registered already.");
            var ids = units.Select(u => u.UnitId).ToList();
            var known = await db.ProductUnits.Where(u => ids.Contains(u.UnitId)).Select(u => u.UnitId).ToListAsync(t);
            if (known.Count > 0)
                throw new TrialRuleException(RefusalReason.UnitExists, $"Registered already (each unit is registered once): {string.Join(", ", known)}.");
            db.ProductLots.Add(lot);
            await db.SaveChangesAsync(t);
            foreach (var unit in units)
            {
                unit.BelongTo(lot);
                db.ProductUnits.Add(unit);
            }
            await db.SaveChangesAsync(t);
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.LotRegistered, lot.LotNumber, t,
                details: $"donor {lot.DonorCode}; product {lot.ProductCode}; {units.Count} units; expiry {lot.Expiry.ToString("u", CultureInfo.InvariantCulture)}; in quarantine");
            InventoryRecords.Add(db, sequence, [InventoryRecords.LotEvent(lot, ProductEventKinds.LotRegistered, actor, now, "registered",
                $"donor {lot.DonorCode}; product {lot.ProductCode}; {units.Count} units")]);
            InventoryRecords.Add(db, sequence, units.Select(u => new ProductEvent
            {
                LotId = lot.Id, UnitId = u.Id, Kind = ProductEventKinds.UnitRegistered, To = UnitState.InQuarantine, At = now, By = actor.Subject,
                Role = actor.Role, Reason = "registered",
                Detail = string.Create(CultureInfo.InvariantCulture, $"{u.CellsPerUnit} cells; viability {u.ViabilityAtRelease}%; {u.StorageLocation}"),
            }));
            return lot;
        }, ct);
        return await InventoryRecords.ViewAsync(db, signing, caller, lot, now, ct);
    }
}

/// <summary>QA's release: the lot, exceptional or not (with its justification), and the signature.</summary>
public sealed record ReleaseLotCommand(string LotNumber, bool Exceptional, string? Justification, SignatureInput? Signature = null);

/// <summary>
/// Quality assurance releases a lot (or releases it exceptionally, with a justification), signed electronically
/// (21 CFR Part 11; the record is the lot number). Its units in quarantine become released, except those with a
/// reported excursion (they stay in quarantine) and those past their own expiry (they become expired).
/// </summary>
[Permitted(TrialRole.QualityAssurance)]
public sealed class ReleaseLot(TrialDbContext db, TimeProvider clock, ElectronicSigning signing) : UseCase<ReleaseLotCommand, LotView>
{
    protected override async Task<LotView> ExecuteAsync(Caller caller, ReleaseLotCommand command, CancellationToken ct)
    {
        ElectronicSigning.Require(command.Signature);
        var now = clock.GetUtcNow();
        var actor = caller.Actor;
        var lot = await db.InTransactionAsync(async t =>
        {
            var lot = await InventoryRecords.LotAsync(db, command.LotNumber, t);
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.LotRelease, lot.LotNumber, t);
            lot.Release(actor, now, command.Exceptional, command.Justification);
            var units = await db.ProductUnits.Where(u => u.LotId == lot.Id && u.State == UnitState.InQuarantine).OrderBy(u => u.Id).ToListAsync(t);
            var why = lot.ExceptionalRelease ? $"exceptional release: {lot.ReleaseJustification}" : "lot released";
            var moved = new List<ProductEvent>();
            foreach (var unit in units.Where(u => !u.ExcursionReported))
                moved.Add(unit.Expiry <= now
                    ? unit.MoveTo(UnitState.Expired, actor, now, $"expired at {unit.Expiry.ToString("u", CultureInfo.InvariantCulture)}", ProductEventKinds.UnitExpired)
                    : unit.MoveTo(UnitState.Released, actor, now, why, ProductEventKinds.UnitReleased));
            var released = moved.Count(e => e.To == UnitState.Released);
            await signing.AppendSignedAsync(pending,
                SignedActions.Content(lot.LotNumber, lot.DonorCode, lot.ProductCode, lot.Expiry, lot.ExceptionalRelease, lot.ReleaseJustification, lot.ReleasedAt,
                    lot.ReleasedBy, string.Join(",", moved.Where(e => e.To == UnitState.Released).Select(e => units.Single(u => u.Id == e.UnitId).UnitId))),
                AuditActor.From(caller), AuditActions.LotReleased, lot.LotNumber, t, reason: lot.ReleaseJustification ?? "",
                details: $"{(lot.ExceptionalRelease ? "exceptional release" : "release")}; {released} units released");
            var sequence = InventoryRecords.LastAppendedSequence(db);
            InventoryRecords.Add(db, sequence, [InventoryRecords.LotEvent(lot, ProductEventKinds.LotReleased, actor, now, why,
                $"{released} units released{(units.Any(u => u.ExcursionReported) ? $"; {units.Count(u => u.ExcursionReported)} held after an excursion" : "")}")]);
            InventoryRecords.Add(db, sequence, moved);
            return lot;
        }, ct);
        return await InventoryRecords.ViewAsync(db, signing, caller, lot, now, ct);
    }
}

/// <summary>QA quarantines a lot, with the reason.</summary>
public sealed record QuarantineLotCommand(string LotNumber, string Reason);

/// <summary>
/// Quality assurance quarantines a lot with a reason: it no longer stands released, and its released and reserved
/// units go back to quarantine (each an event). A later release (signed) releases them again.
/// </summary>
[Permitted(TrialRole.QualityAssurance)]
public sealed class QuarantineLot(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing) : UseCase<QuarantineLotCommand, LotView>
{
    protected override async Task<LotView> ExecuteAsync(Caller caller, QuarantineLotCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        var now = clock.GetUtcNow();
        var actor = caller.Actor;
        var lot = await db.InTransactionAsync(async t =>
        {
            var lot = await InventoryRecords.LotAsync(db, command.LotNumber, t);
            lot.Quarantine(actor, now, reason);
            var units = await db.ProductUnits.Where(u => u.LotId == lot.Id && (u.State == UnitState.Released || u.State == UnitState.Reserved)).OrderBy(u => u.Id).ToListAsync(t);
            var moved = units.Select(u => u.MoveTo(UnitState.InQuarantine, actor, now, reason, ProductEventKinds.UnitQuarantined)).ToList();
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.LotQuarantined, lot.LotNumber, t, reason: reason,
                details: $"{moved.Count} units held in quarantine");
            InventoryRecords.Add(db, sequence, [InventoryRecords.LotEvent(lot, ProductEventKinds.LotQuarantined, actor, now, reason)]);
            InventoryRecords.Add(db, sequence, moved);
            return lot;
        }, ct);
        return await InventoryRecords.ViewAsync(db, signing, caller, lot, now, ct);
    }
}

/// <summary>What went wrong with a unit or lot.</summary>
public enum ExcursionKind
{
    /// <summary>A storage or shipping temperature excursion.</summary>
    Temperature = 1,
    /// <summary>Physical damage.</summary>
    Damage = 2,
}

/// <summary>An excursion of one unit or of a whole lot (exactly one of the two), its kind and what was seen.</summary>
public sealed record ReportExcursionCommand(string? UnitId, string? LotNumber, ExcursionKind? Kind, string Reason);

/// <summary>
/// The pharmacy or quality assurance reports a temperature excursion or damage of one unit or of a whole lot. The
/// units concerned are marked, and those released or reserved go back to quarantine; a later release of the lot leaves
/// them there (they are destroyed, or released again by a unit-level decision outside this service).
/// </summary>
[Permitted(TrialRole.Pharmacist, TrialRole.QualityAssurance)]
public sealed class ReportExcursion(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing) : UseCase<ReportExcursionCommand, LotView>
{
    protected override async Task<LotView> ExecuteAsync(Caller caller, ReportExcursionCommand command, CancellationToken ct)
    {
        var hasUnit = !string.IsNullOrWhiteSpace(command.UnitId);
        var hasLot = !string.IsNullOrWhiteSpace(command.LotNumber);
        if (hasUnit == hasLot) throw TrialRuleException.Invalid("unit_id", "Name exactly one of unit_id (one unit) and lot_number (the whole lot).");
        if (command.Kind is not { } kind || !Enum.IsDefined(kind))
            throw TrialRuleException.Invalid("kind", "kind is required: temperature (a storage or shipping excursion) or damage.");
        var reason = Reasons.Require(command.Reason);
        var why = $"{SignedActions.Words(kind)}: {reason}";
        var now = clock.GetUtcNow();
        var actor = caller.Actor;
        var lot = await db.InTransactionAsync(async t =>
        {
            List<ProductUnit> units;
            ProductLot lot;
            if (hasUnit)
            {
                var unit = await InventoryRecords.UnitAsync(db, command.UnitId, t);
                if (unit.State is UnitState.Destroyed or UnitState.Infused)
                    throw new TrialRuleException(RefusalReason.UnitTransitionNotAllowed, $"Unit {unit.UnitId} is {UnitStates.Words(unit.State)}; there is nothing to hold.");
                units = [unit];
                lot = await db.ProductLots.SingleAsync(l => l.Id == unit.LotId, t);
            }
            else
            {
                lot = await InventoryRecords.LotAsync(db, command.LotNumber, t);
                units = await db.ProductUnits.Where(u => u.LotId == lot.Id && u.State != UnitState.Destroyed && u.State != UnitState.Infused).OrderBy(u => u.Id).ToListAsync(t);
            }
            var events = units.Select(u => u.ReportExcursion(actor, now, why, "") ?? new ProductEvent
            {
                LotId = u.LotId, UnitId = u.Id, PreparationId = u.PreparationId, Kind = ProductEventKinds.UnitExcursion, At = now,
                By = actor.Subject, Role = actor.Role, Reason = why,
            }).ToList();
            var sequence = hasUnit
                ? await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnitExcursionReported, units[0].UnitId, t, reason: reason, details: $"{kind}; lot {lot.LotNumber}")
                : await audit.AppendAsync(AuditActor.From(caller), AuditActions.LotExcursionReported, lot.LotNumber, t, reason: reason, details: $"{kind}; {units.Count} units marked");
            if (!hasUnit) InventoryRecords.Add(db, sequence, [InventoryRecords.LotEvent(lot, ProductEventKinds.LotExcursion, actor, now, why)]);
            InventoryRecords.Add(db, sequence, events);
            return lot;
        }, ct);
        return await InventoryRecords.ViewAsync(db, signing, caller, lot, now, ct);
    }
}

/// <summary>A unit and why it comes back or is destroyed.</summary>
public sealed record UnitCommand(string UnitId, string Reason);

/// <summary>The pharmacy records a dispensed unit coming back unused (Dispensed → Returned), with the reason.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ReturnUnit(TrialDbContext db, TimeProvider clock, AuditTrail audit) : UseCase<UnitCommand, UnitView>
{
    protected override async Task<UnitView> ExecuteAsync(Caller caller, UnitCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        var now = clock.GetUtcNow();
        return await db.InTransactionAsync(async t =>
        {
            var unit = await InventoryRecords.UnitAsync(db, command.UnitId, t);
            var lot = await db.ProductLots.SingleAsync(l => l.Id == unit.LotId, t);
            var returned = await UnitMoves.WithDoseAsync(db, unit, unit.MoveTo(UnitState.Returned, caller.Actor, now, reason, ProductEventKinds.UnitReturned), t);
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnitReturned, unit.UnitId, t, reason: reason, details: $"lot {lot.LotNumber}");
            InventoryRecords.Add(db, sequence, [returned]);
            return InventoryRecords.View(unit, lot, now, seesUse: true);
        }, ct);
    }
}

/// <summary>
/// The pharmacy destroys a unit with the reason (expired, damaged, returned, thawed and not used). A unit in stock past
/// its expiry is first recorded as expired, then destroyed: both events are kept.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class DestroyUnit(TrialDbContext db, TimeProvider clock, AuditTrail audit) : UseCase<UnitCommand, UnitView>
{
    protected override async Task<UnitView> ExecuteAsync(Caller caller, UnitCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        var now = clock.GetUtcNow();
        var actor = caller.Actor;
        return await db.InTransactionAsync(async t =>
        {
            var unit = await InventoryRecords.UnitAsync(db, command.UnitId, t);
            var lot = await db.ProductLots.SingleAsync(l => l.Id == unit.LotId, t);
            var events = new List<ProductEvent>();
            if (unit.StateAt(now) == UnitState.Expired && unit.State != UnitState.Expired)
                events.Add(unit.MoveTo(UnitState.Expired, actor, now, $"expired at {unit.Expiry.ToString("u", CultureInfo.InvariantCulture)}", ProductEventKinds.UnitExpired));
            events.Add(await UnitMoves.WithDoseAsync(db, unit, unit.MoveTo(UnitState.Destroyed, actor, now, reason, ProductEventKinds.UnitDestroyed), t));
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.UnitDestroyed, unit.UnitId, t, reason: reason, details: $"lot {lot.LotNumber}");
            InventoryRecords.Add(db, sequence, events);
            return InventoryRecords.View(unit, lot, now, seesUse: true);
        }, ct);
    }
}

/// <summary>A unit's event after it went into a dose names that dose, as the preparation's own events do.</summary>
internal static class UnitMoves
{
    public static async Task<ProductEvent> WithDoseAsync(TrialDbContext db, ProductUnit unit, ProductEvent e, CancellationToken ct)
    {
        if (unit.PreparationId is not { } preparation) return e;
        var named = await db.ProductEvents.AsNoTracking().Where(x => x.PreparationId == preparation && x.ParticipantId != null)
            .OrderByDescending(x => x.Id).Select(x => new { x.ParticipantId, x.ProductId }).FirstOrDefaultAsync(ct);
        e.ParticipantId = named?.ParticipantId;
        e.ProductId = named?.ProductId;
        return e;
    }
}

/// <summary>The lots, newest first, with their units (a blinded caller sees a unit's use only as issued).</summary>
[Permitted(TrialRole.Pharmacist, TrialRole.QualityAssurance, TrialRole.Monitor)]
public sealed class ListLots(TrialDbContext db, TimeProvider clock, ElectronicSigning signing) : UseCase<Unit, IReadOnlyList<LotView>>
{
    /// <summary>The most lots one listing returns (a trial has a handful).</summary>
    public const int MaxLots = 200;

    protected override async Task<IReadOnlyList<LotView>> ExecuteAsync(Caller caller, Unit command, CancellationToken ct)
    {
        var lots = await db.ProductLots.AsNoTracking().OrderByDescending(l => l.Id).Take(MaxLots).ToListAsync(ct);
        return await InventoryRecords.ViewsAsync(db, signing, caller, lots, clock.GetUtcNow(), ct);
    }
}

/// <summary>One lot with its units.</summary>
[Permitted(TrialRole.Pharmacist, TrialRole.QualityAssurance, TrialRole.Monitor)]
public sealed class GetLot(TrialDbContext db, TimeProvider clock, ElectronicSigning signing) : UseCase<string, LotView>
{
    protected override async Task<LotView> ExecuteAsync(Caller caller, string lotNumber, CancellationToken ct)
    {
        var lot = await InventoryRecords.LotAsync(db, lotNumber, ct);
        return await InventoryRecords.ViewAsync(db, signing, caller, lot, clock.GetUtcNow(), ct);
    }
}
