using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Inventory;

/// <summary>
/// One unit as a caller sees it. <see cref="State"/> is null for a blinded caller when the unit has left the stock for
/// a dose (reserved, thawed, dispensed, infused, returned): "issued", so the stock never tells which doses had cells.
/// </summary>
public sealed record UnitView(string UnitId, string LotNumber, long CellsPerUnit, decimal ViabilityPercent, DateTimeOffset Expiry,
    string StorageLocation, UnitState? State, bool Usable, bool ExcursionReported, bool IsDin);

/// <summary>One lot with its units, its release signature and how many units are usable now.</summary>
public sealed record LotView(ProductLot Lot, SignatureView? ReleaseSignature, IReadOnlyList<UnitView> Units, int UsableUnits, bool Expired);

/// <summary>Reads and writes shared by the inventory's use cases: finding lots and units, their views, the audit link of their events.</summary>
public static class InventoryRecords
{
    /// <summary>Whether <paramref name="role"/> sees a unit's use (reserved, thawed, dispensed...) and its unblinded detail: the pharmacy only.</summary>
    public static bool SeesUse(TrialRole role) => role == TrialRole.Pharmacist;

    /// <summary>The lot of that number, tracked; LOT_NOT_FOUND otherwise.</summary>
    public static async Task<ProductLot> LotAsync(TrialDbContext db, string? lotNumber, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(lotNumber) || lotNumber.Length > 32)
            throw TrialRuleException.Invalid("lot_number", "lot_number is required: the lot number as registered.");
        var number = lotNumber.Trim();
        return await db.ProductLots.SingleOrDefaultAsync(l => l.LotNumber == number, ct)
            ?? throw new TrialRuleException(RefusalReason.LotNotFound, $"No lot {number} is registered.");
    }

    /// <summary>The unit of that id, tracked; UNIT_NOT_FOUND otherwise.</summary>
    public static async Task<ProductUnit> UnitAsync(TrialDbContext db, string? unitId, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(unitId) || unitId.Length > 32)
            throw TrialRuleException.Invalid("unit_id", "unit_id is required: the unit's ISBT 128 DIN or sponsor id.");
        var id = unitId.Trim();
        return await db.ProductUnits.SingleOrDefaultAsync(u => u.UnitId == id, ct)
            ?? throw new TrialRuleException(RefusalReason.UnitNotFound, $"No unit {id} is registered.");
    }

    /// <summary>The sequence of the audit event just appended in this transaction (to link the chain-of-custody events to it).</summary>
    public static long LastAppendedSequence(TrialDbContext db) =>
        db.ChangeTracker.Entries<AuditEventRecord>().Where(e => e.State == EntityState.Added).Max(e => e.Entity.Sequence);

    /// <summary>Stores <paramref name="events"/> linked to the audit event <paramref name="auditSequence"/>.</summary>
    public static void Add(TrialDbContext db, long auditSequence, params IEnumerable<ProductEvent?> events)
    {
        foreach (var e in events)
        {
            if (e is null) continue;
            e.AuditSequence = auditSequence;
            db.ProductEvents.Add(e);
        }
    }

    /// <summary>A lot-level event (registration, release, quarantine, excursion).</summary>
    public static ProductEvent LotEvent(ProductLot lot, string kind, Actor by, DateTimeOffset at, string reason, string detail = "") => new()
    {
        LotId = lot.Id,
        Kind = kind,
        At = at,
        By = by.Subject,
        Role = by.Role,
        Reason = reason,
        Detail = detail,
    };

    /// <summary>The views of <paramref name="lots"/> with their units, as <paramref name="caller"/> may see them.</summary>
    public static async Task<IReadOnlyList<LotView>> ViewsAsync(TrialDbContext db, ElectronicSigning signing, Caller caller, IReadOnlyList<ProductLot> lots,
        DateTimeOffset now, CancellationToken ct)
    {
        var ids = lots.Select(l => l.Id).ToList();
        var units = await db.ProductUnits.AsNoTracking().Where(u => ids.Contains(u.LotId)).OrderBy(u => u.Id).ToListAsync(ct);
        var signatures = await signing.ForRecordsAsync(SignedAction.LotRelease, lots.Where(l => l.ReleasedAt is not null).Select(l => l.LotNumber).ToList(), ct);
        var seesUse = SeesUse(caller.Role);
        return lots.Select(lot =>
        {
            var own = units.Where(u => u.LotId == lot.Id).Select(u => View(u, lot, now, seesUse)).ToList();
            return new LotView(lot, signatures.GetValueOrDefault(lot.LotNumber), own, own.Count(u => u.Usable), lot.Expiry <= now);
        }).ToList();
    }

    /// <summary>One unit's view: a blinded caller sees a unit that left the stock for a dose only as issued.</summary>
    public static UnitView View(ProductUnit unit, ProductLot lot, DateTimeOffset now, bool seesUse)
    {
        var state = unit.StateAt(now);
        var issued = state is UnitState.Reserved or UnitState.Thawed or UnitState.Dispensed or UnitState.Infused or UnitState.Returned;
        return new UnitView(unit.UnitId, lot.LotNumber, unit.CellsPerUnit, unit.ViabilityAtRelease, unit.Expiry, unit.StorageLocation,
            issued && !seesUse ? null : state, unit.IsUsable(now) && lot.IsReleased, unit.ExcursionReported, DonationIdentificationNumber.IsValid(unit.UnitId));
    }

    /// <summary>The view of one lot (after a change).</summary>
    public static async Task<LotView> ViewAsync(TrialDbContext db, ElectronicSigning signing, Caller caller, ProductLot lot, DateTimeOffset now, CancellationToken ct) =>
        (await ViewsAsync(db, signing, caller, [lot], now, ct))[0];
}
