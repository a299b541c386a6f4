using System.Globalization;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>The chain-of-custody event kinds of a prepared dose (dose-level: no unit, cell count or volume in their names).</summary>
public static class DoseEventKinds
{
    public const string Prepared = "dose.prepared";
    public const string Verified = "dose.verified";
    public const string Dispatched = "dose.dispatched";
    public const string VerifiedAtBedside = "dose.verified_at_bedside";
    public const string Infused = "dose.infused";
    public const string Returned = "dose.returned";
    public const string Destroyed = "dose.destroyed";
}

/// <summary>
/// The units of the cell product as a prepared dose uses them (the inventory's <see cref="ProductUnit"/> rules), and
/// the dose's chain-of-custody events: choosing usable units, reserving and thawing them for a dose, moving them with
/// the dose (dispensed, infused, returned, destroyed), and whether the product is still released at the bedside. Every
/// event is stored in the transaction of its audit event, linked to it by sequence.
/// </summary>
public sealed class DoseUnits(TrialDbContext db)
{
    /// <summary>
    /// The units named for a preparation, tracked: each registered and usable now (released, in date, not quarantined,
    /// not used), refused otherwise with the reason (UNIT_NOT_USABLE, or INVALID_ARGUMENT for an unknown unit id).
    /// </summary>
    public async Task<IReadOnlyList<(string UnitId, long Cells, ProductUnit Unit)>> ChooseAsync(IReadOnlyList<string> unitIds, DateTimeOffset now, CancellationToken ct)
    {
        if (unitIds.Count == 0) return [];
        var ids = unitIds.Select(u => (u ?? "").Trim()).ToList();
        if (ids.Any(id => id.Length is 0 or > 32)) throw TrialRuleException.Invalid("unit_ids", "Each unit id is 1 to 32 characters (the ISBT 128 DIN or the sponsor's unit id).");
        var found = await db.ProductUnits.Where(u => ids.Contains(u.UnitId)).ToListAsync(ct);
        var chosen = new List<(string, long, ProductUnit)>();
        foreach (var id in ids)
        {
            var unit = found.SingleOrDefault(u => u.UnitId == id) ?? throw TrialRuleException.Invalid("unit_ids", $"Unit {id} is not registered in the inventory.");
            unit.EnsureUsable(now);
            var lot = await db.ProductLots.SingleAsync(l => l.Id == unit.LotId, ct);
            if (!lot.IsReleased) throw new TrialRuleException(RefusalReason.UnitNotUsable, $"Unit {id} cannot be used: its lot {lot.LotNumber} is not released.");
            chosen.Add((unit.UnitId, unit.CellsPerUnit, unit));
        }
        return chosen;
    }

    /// <summary>Reserves and thaws the chosen units for <paramref name="dose"/> (Released → Reserved → Thawed), one event each.</summary>
    public async Task ThawForAsync(DosePreparation dose, PharmacyOrder order, IReadOnlyList<(string UnitId, long Cells, ProductUnit Unit)> chosen, Actor by,
        DateTimeOffset now, long auditSequence, CancellationToken ct)
    {
        foreach (var (_, _, unit) in chosen)
        {
            Add(unit.ReserveFor(dose.Id, dose.ParticipantId, by, now, $"reserved for product {dose.ProductId}"), dose, auditSequence);
            Add(unit.MoveTo(UnitState.Thawed, by, now, $"thawed for product {dose.ProductId}",
                detail: $"thaw started {dose.PreparationStartedAt.ToString("u", CultureInfo.InvariantCulture)}"), dose, auditSequence);
        }
        // Unblinded detail, never shown to a blinded caller; no treatment word is stored in the clear.
        var detail = order.Placebo
            ? "prepared without units"
            : string.Create(CultureInfo.InvariantCulture,
                $"units {dose.UnitIds}; required {order.CellCount} cells; post-thaw {dose.PostThawCellCount} cells at {dose.PostThawViabilityPercent}% viability; final {dose.FinalCells} cells in {dose.VolumeMilliliters} mL");
        Record(dose, DoseEventKinds.Prepared, by, now, $"prepared; use by {dose.UseBy.ToString("u", CultureInfo.InvariantCulture)}", detail, auditSequence);
        await Task.CompletedTask;
    }

    /// <summary>Moves the dose's units with it (dispensed, infused, returned, destroyed) and records the dose-level event.</summary>
    public async Task MoveAsync(DosePreparation dose, UnitState to, Actor by, DateTimeOffset now, string reason, long auditSequence, CancellationToken ct)
    {
        var units = await db.ProductUnits.Where(u => u.PreparationId == dose.Id).ToListAsync(ct);
        foreach (var unit in units.Where(u => u.State != to))
        {
            // A returned bag's units are destroyed from Returned; a bag destroyed before dispatch has its units still thawed.
            Add(unit.MoveTo(to, by, now, reason), dose, auditSequence);
        }
        var kind = to switch
        {
            UnitState.Dispensed => DoseEventKinds.Dispatched,
            UnitState.Infused => DoseEventKinds.Infused,
            UnitState.Returned => DoseEventKinds.Returned,
            _ => DoseEventKinds.Destroyed,
        };
        Record(dose, kind, by, now, reason, "", auditSequence);
    }

    /// <summary>Records a dose-level event with no unit (the check, the bedside verification).</summary>
    public void Record(DosePreparation dose, string kind, Actor by, DateTimeOffset at, string reason, string detail, long auditSequence) =>
        db.ProductEvents.Add(new ProductEvent
        {
            PreparationId = dose.Id,
            ProductId = dose.ProductId,
            ParticipantId = dose.ParticipantId,
            Kind = kind,
            At = at,
            By = by.Subject,
            Role = by.Role,
            Reason = reason,
            Detail = detail,
            AuditSequence = auditSequence,
        });

    private void Add(ProductEvent e, DosePreparation dose, long auditSequence)
    {
        e.PreparationId = dose.Id;
        e.ProductId = dose.ProductId;
        e.ParticipantId = dose.ParticipantId;
        e.AuditSequence = auditSequence;
        db.ProductEvents.Add(e);
    }
}
