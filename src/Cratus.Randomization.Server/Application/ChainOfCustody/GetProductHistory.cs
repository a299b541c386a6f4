using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.ChainOfCustody;

/// <summary>Whose history: exactly one of a unit id, a participant id or a prepared product's id.</summary>
public sealed record ProductHistoryQuery(string? UnitId, string? ParticipantId, string? ProductId);

/// <summary>
/// One event as the caller may see it. In a blinded view: no unit, lot, states or detail in a dose's history; no
/// participant or product in a unit's; the pharmacy's free-text reasons replaced by the event's words; times in whole
/// seconds. <see cref="At"/> is null only for the blinded "issued" event that stands for a unit's use.
/// </summary>
public sealed record HistoryEvent(string Kind, string Description, DateTimeOffset? At, string By, string Role, string Reason, long AuditSequence,
    string LotNumber, string UnitId, string ProductId, string ParticipantId, UnitState? From, UnitState? To, string Detail);

/// <summary>The history, oldest first, and whether it is the blinded view.</summary>
public sealed record ProductHistory(bool Blinded, IReadOnlyList<HistoryEvent> Events);

/// <summary>
/// The chain of custody, readable: every event of a unit (from its lot's registration), of a participant's doses, or
/// of one prepared dose, in order, attributable (who, role, when, why) and linked to its audit event. Only the
/// pharmacy sees the unblinded view (units, cells, volume, viability, thaw detail; each read audited). Everyone else
/// (sites for their own participants, the monitor, quality assurance) sees dose-level events with identifiers and
/// times only, and a unit's history without the participant or dose it went into (its use reads "issued", with no
/// time), so neither tells which doses had cells.
/// </summary>
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Monitor, TrialRole.QualityAssurance)]
public sealed class GetProductHistory(TrialDbContext db, ParticipantStore participants, AuditedReads reads) : UseCase<ProductHistoryQuery, ProductHistory>
{
    /// <summary>Unit states that mean the unit went into a dose (seen by the pharmacy only).</summary>
    private static readonly UnitState[] UseStates = [UnitState.Reserved, UnitState.Thawed, UnitState.Dispensed, UnitState.Infused, UnitState.Returned];

    protected override async Task<ProductHistory> ExecuteAsync(Caller caller, ProductHistoryQuery query, CancellationToken ct)
    {
        var given = new[] { query.UnitId, query.ParticipantId, query.ProductId }.Count(x => !string.IsNullOrWhiteSpace(x));
        if (given != 1) throw TrialRuleException.Invalid("unit_id", "Name exactly one of unit_id, participant_id and product_id.");
        var unblinded = caller.Role == TrialRole.Pharmacist;
        if (!string.IsNullOrWhiteSpace(query.UnitId)) return await OfUnitAsync(caller, query.UnitId, unblinded, ct);

        List<ProductEvent> events;
        string participantId, site;
        if (!string.IsNullOrWhiteSpace(query.ParticipantId))
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, query.ParticipantId.Trim(), ct);
            (participantId, site) = (participant.ParticipantId, participant.SiteCode);
            events = await db.ProductEvents.AsNoTracking().Where(e => e.ParticipantId == participantId).OrderBy(e => e.Id).ToListAsync(ct);
        }
        else
        {
            var productId = query.ProductId!.Trim();
            if (!Identifiers.IsValidParticipantId(productId))
                throw TrialRuleException.Invalid("product_id", "product_id is the opaque product id on the bag's label (CP-...).");
            events = await db.ProductEvents.AsNoTracking().Where(e => e.ProductId == productId).OrderBy(e => e.Id).ToListAsync(ct);
            var owner = events.Select(e => e.ParticipantId).FirstOrDefault(p => p is not null);
            var participant = owner is null ? null : await participants.FindAsync(owner, ct);
            if (participant is null || !caller.MaySee(participant.SiteCode))
                throw new TrialRuleException(RefusalReason.ProductNotFound, $"No prepared product {productId} is visible to you.");
            (participantId, site) = (participant.ParticipantId, participant.SiteCode);
        }
        var lots = await LotNumbersAsync(events, ct);
        var units = await UnitIdsAsync(events, ct);
        if (unblinded)
        {
            await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.UnitHistoryReadUnblinded, participantId, site), ct);
            return new ProductHistory(false, events.Select(e => Full(e, lots, units)).ToList());
        }
        // Blinded: the dose-level events only (no unit), each with the same fields whatever the dose held.
        return new ProductHistory(true, events.Where(e => e.UnitId is null && e.LotId is null).Select(e => new HistoryEvent(
            e.Kind, Words(e.Kind), WholeSeconds(e.At), e.By, e.Role, BlindedReason(e), e.AuditSequence ?? 0, "", "", e.ProductId ?? "", e.ParticipantId ?? "",
            null, null, "")).ToList());
    }

    private async Task<ProductHistory> OfUnitAsync(Caller caller, string unitId, bool unblinded, CancellationToken ct)
    {
        if (TrialRoles.IsSiteRole(caller.Role))
            throw new TrialRuleException(RefusalReason.RoleNotPermitted, "Sites read the history of their own participants' doses (participant_id or product_id), not of a unit.");
        var id = unitId.Trim();
        var unit = await db.ProductUnits.AsNoTracking().SingleOrDefaultAsync(u => u.UnitId == id, ct)
            ?? throw new TrialRuleException(RefusalReason.UnitNotFound, $"No unit {id} is registered.");
        var events = await db.ProductEvents.AsNoTracking()
            .Where(e => e.UnitId == unit.Id || (e.LotId == unit.LotId && e.UnitId == null && e.PreparationId == null)).OrderBy(e => e.Id).ToListAsync(ct);
        var lots = await LotNumbersAsync(events, ct);
        var units = new Dictionary<long, string> { [unit.Id] = unit.UnitId };
        if (unblinded)
        {
            await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.UnitHistoryReadUnblinded, unit.UnitId, ""), ct);
            return new ProductHistory(false, events.Select(e => Full(e, lots, units)).ToList());
        }
        var stock = events.Where(e => !IsUse(e)).Select(e => new HistoryEvent(e.Kind, Words(e.Kind), WholeSeconds(e.At), e.By, e.Role, e.Reason,
            e.AuditSequence ?? 0, lots.GetValueOrDefault(e.LotId ?? 0, ""), e.UnitId is null ? "" : unit.UnitId, "", "", e.From, e.To, "")).ToList();
        if (events.Any(IsUse))
            stock.Add(new HistoryEvent("unit.issued", "issued for a dose preparation (the pharmacy's unblinded record holds the rest)", null, "", "pharmacist", "", 0,
                lots.GetValueOrDefault(unit.LotId, ""), unit.UnitId, "", "", null, null, ""));
        return new ProductHistory(true, stock);
    }

    /// <summary>An event of the unit's use for a dose, which a blinded unit history never shows.</summary>
    private static bool IsUse(ProductEvent e) =>
        e.PreparationId is not null || e.ParticipantId is not null || e.ProductId is not null
        || e.From is { } f && UseStates.Contains(f) || e.To is { } t && UseStates.Contains(t);

    private static HistoryEvent Full(ProductEvent e, IReadOnlyDictionary<long, string> lots, IReadOnlyDictionary<long, string> units) => new(
        e.Kind, Words(e.Kind), e.At, e.By, e.Role, e.Reason, e.AuditSequence ?? 0, lots.GetValueOrDefault(e.LotId ?? 0, ""),
        units.GetValueOrDefault(e.UnitId ?? 0, ""), e.ProductId ?? "", e.ParticipantId ?? "", e.From, e.To, e.Detail);

    /// <summary>The pharmacy's reason may name cells or units: a blinded caller reads the event's words instead; the site's own reasons stay.</summary>
    private static string BlindedReason(ProductEvent e) =>
        TrialRoles.TryParse(e.Role, out var role) && TrialRoles.IsSiteRole(role) ? e.Reason : Words(e.Kind);

    private static DateTimeOffset WholeSeconds(DateTimeOffset at) => DateTimeOffset.FromUnixTimeSeconds(at.ToUnixTimeSeconds());

    /// <summary>"dose verified at bedside" for dose.verified_at_bedside: the kind in words.</summary>
    public static string Words(string kind)
    {
        var dot = kind.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? kind.Replace('_', ' ') : $"{kind[..dot]} {kind[(dot + 1)..].Replace('_', ' ')}";
    }

    private async Task<Dictionary<long, string>> LotNumbersAsync(IReadOnlyList<ProductEvent> events, CancellationToken ct)
    {
        var ids = events.Where(e => e.LotId is not null).Select(e => e.LotId!.Value).Distinct().ToList();
        return await db.ProductLots.AsNoTracking().Where(l => ids.Contains(l.Id)).ToDictionaryAsync(l => l.Id, l => l.LotNumber, ct);
    }

    private async Task<Dictionary<long, string>> UnitIdsAsync(IReadOnlyList<ProductEvent> events, CancellationToken ct)
    {
        var ids = events.Where(e => e.UnitId is not null).Select(e => e.UnitId!.Value).Distinct().ToList();
        return await db.ProductUnits.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.UnitId, ct);
    }
}
