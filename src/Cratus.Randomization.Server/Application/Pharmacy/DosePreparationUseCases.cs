using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Signatures;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>A prepared dose as the pharmacy sees it (unblinded): the bag, its order (cells or placebo) and the preparer's and the checker's signatures.</summary>
public sealed record PreparedDoseView(DosePreparation Dose, PharmacyOrder Order, IReadOnlyList<SignatureView> Signatures);

/// <summary>The measurements as a door received them: counts, and the viability and volume as text ("91.5"), read by the use case.</summary>
public sealed record MeasurementsInput(long PostThawCellCount, string PostThawViabilityPercent, long FinalCells, string VolumeMilliliters)
{
    public CellMeasurements Read() => new(PostThawCellCount, DecimalOf(PostThawViabilityPercent, "measurements.post_thaw_viability_percent"), FinalCells,
        DecimalOf(VolumeMilliliters, "measurements.volume_ml"));

    private static decimal DecimalOf(string text, string field) =>
        text.Length <= 12 && decimal.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw TrialRuleException.Invalid(field, $"{field} must be a number such as 91.5.");
}

public sealed record RecordPreparationCommand(
    string ParticipantId, IReadOnlyList<string> UnitIds, TimeInput PreparationStartedAt, MeasurementsInput? Measurements, SignatureInput? Signature = null);

public sealed record VerifyPreparationCommand(string ProductId, SignatureInput? Signature = null);

public sealed record DispatchDoseCommand(string ProductId, string Courier, TimeInput DispatchedAt);

public sealed record CloseDoseCommand(string ProductId, string Reason);

/// <summary>The prepared doses of the pharmacy: finding one, reading its signatures, and its unblinded view.</summary>
internal static class PreparedDoses
{
    /// <summary>The dose with <paramref name="productId"/>, tracked for a change; NOT_FOUND (PRODUCT_NOT_FOUND) otherwise.</summary>
    public static async Task<DosePreparation> FindAsync(TrialDbContext db, string productId, CancellationToken ct)
    {
        if (!DosePreparation.IsValidProductId(productId))
            throw TrialRuleException.Invalid("product_id", "product_id is required: the product id on the bag's label, such as CP-7K3M9Q2XWD.");
        return await db.DosePreparations.SingleOrDefaultAsync(d => d.ProductId == productId, ct) ?? throw NotFound(productId);
    }

    public static TrialRuleException NotFound(string productId) =>
        new(RefusalReason.ProductNotFound, $"No prepared dose with product id {productId} is known.");

    /// <summary>The participant's dose still on its way (prepared, checked, dispatched or verified at the bedside), if any.</summary>
    public static async Task<DosePreparation?> ActiveAsync(TrialDbContext db, string participantId, CancellationToken ct) =>
        (await db.DosePreparations.Where(d => d.ParticipantId == participantId).ToListAsync(ct)).Where(d => DoseStates.IsActive(d.State)).MaxBy(d => d.Id);

    public static async Task<PreparedDoseView> ViewAsync(ElectronicSigning signing, ReadDoseOrder orders, DosePreparation dose, CancellationToken ct)
    {
        var order = await orders.OrderAsync(dose.ParticipantId, ct) ?? throw NotFound(dose.ProductId);
        var prepared = await signing.ForRecordsAsync(SignedAction.DosePreparation, [dose.ParticipantId], ct);
        var checkedBy = await signing.ForRecordsAsync(SignedAction.PreparationCheck, [dose.ProductId], ct);
        var signatures = new List<SignatureView>();
        // The participant's latest preparation signature is this dose's while it is the latest dose.
        if (prepared.TryGetValue(dose.ParticipantId, out var p) && p.Manifestation.UserName == dose.PreparedBy) signatures.Add(p);
        if (checkedBy.TryGetValue(dose.ProductId, out var c)) signatures.Add(c);
        return new PreparedDoseView(dose, order, signatures);
    }

    /// <summary>The record a preparation signature binds to: everything recorded, unblinded (only its digest is in the trail).</summary>
    public static string Content(DosePreparation d) => SignedActions.Content(d.ProductId, d.ParticipantId, d.SiteCode, d.UnitIds, d.PreparationStartedAt, d.UseBy, d.PostThawCellCount, d.PostThawViabilityPercent, d.FinalCells, d.VolumeMilliliters, d.PreparedBy);
}

/// <summary>
/// A pharmacist records the preparation of a participant's dose order: the released, in-date units used with enough
/// cells for the dose and the post-thaw measurements, or the matched placebo without units. The bag gets an opaque
/// product id of the same form for every arm and a use-by time of its preparation start plus the trial's window. Signed
/// by the preparer (Part 11). A second preparation while one is on its way is refused. The audit event names the
/// participant and the product id only, never an arm, a unit or a count.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class RecordPreparation(TrialDbContext db, TrialDefinition trial, TimeProvider clock, ParticipantStore participants, ReadDoseOrder orders,
    ElectronicSigning signing, DoseUnits units, RandomNumberGenerator random) : UseCase<RecordPreparationCommand, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, RecordPreparationCommand command, CancellationToken ct)
    {
        if (!Identifiers.IsValidParticipantId(command.ParticipantId)) throw RandomizedParticipant.InvalidId();
        var startedAt = command.PreparationStartedAt.Read("preparation_started_at")
            ?? throw TrialRuleException.Invalid("preparation_started_at", "preparation_started_at is required: the thaw start (placebo: when its preparation started).");
        if (command.UnitIds.Count > 20) throw TrialRuleException.Invalid("unit_ids", "At most 20 units make one dose.");
        var measurements = command.Measurements?.Read();
        ElectronicSigning.Require(command.Signature);
        return await db.InTransactionAsync(async t =>
        {
            var participant = await TrialParticipant.VisibleAsync(participants, caller, command.ParticipantId, t);
            if (participant.WithdrawnAt is not null)
                throw new TrialRuleException(RefusalReason.ParticipantWithdrawn, $"Participant {participant.ParticipantId} has withdrawn; no dose is prepared.");
            if (participant.InfusedAt is not null)
                throw new TrialRuleException(RefusalReason.InfusionAlreadyRecorded, $"Participant {participant.ParticipantId} was infused already.");
            var order = await orders.OrderAsync(participant.ParticipantId, t) ?? throw RandomizedParticipant.NotVisible(participant.ParticipantId);
            if (await PreparedDoses.ActiveAsync(db, participant.ParticipantId, t) is { } active) throw DosePreparation.AlreadyPrepared(active);
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.DosePreparation, participant.ParticipantId, t);
            var now = clock.GetUtcNow();
            var chosen = await units.ChooseAsync(command.UnitIds, now, t);
            string productId;
            do productId = DosePreparation.NewProductId(random);
            while (await db.DosePreparations.AnyAsync(d => d.ProductId == productId, t));
            var dose = DosePreparation.Prepare(productId, participant.ParticipantId, participant.SiteCode, order.Placebo, order.CellCount,
                chosen.Select(u => (u.UnitId, u.Cells)).ToList(), measurements, startedAt, caller.Actor, now, trial.DoseHandling);
            db.DosePreparations.Add(dose);
            await db.SaveChangesAsync(t);
            var actor = AuditActor.From(caller);
            var signature = await signing.AppendSignedAsync(pending, PreparedDoses.Content(dose), actor, AuditActions.DosePrepared, participant.ParticipantId, t,
                site: participant.SiteCode, details: $"product {dose.ProductId}; use by {dose.UseBy:u}");
            var sequence = db.Signatures.Local.Single(x => x.SigningProofId == pending.Proof.Id).AuditSequence;
            await units.ThawForAsync(dose, order, chosen, caller.Actor, now, sequence, t);
            return new PreparedDoseView(dose, order, [signature]);
        }, ct);
    }
}

/// <summary>
/// The two-person check: a second pharmacist (never the preparer) checks the prepared dose against its order and signs;
/// the dose is then released by the pharmacy for dispatch.
/// </summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class VerifyPreparation(TrialDbContext db, TimeProvider clock, ElectronicSigning signing, DoseUnits units, ReadDoseOrder orders) : UseCase<VerifyPreparationCommand, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, VerifyPreparationCommand command, CancellationToken ct)
    {
        if (!DosePreparation.IsValidProductId(command.ProductId))
            throw TrialRuleException.Invalid("product_id", "product_id is required: the product id on the bag's label, such as CP-7K3M9Q2XWD.");
        ElectronicSigning.Require(command.Signature);
        return await db.InTransactionAsync(async t =>
        {
            var dose = await PreparedDoses.FindAsync(db, command.ProductId, t);
            if (dose.PreparedBy == caller.Subject)
                throw new TrialRuleException(RefusalReason.SecondPharmacistRequired, $"You prepared {dose.ProductId}: a second pharmacist must check it.");
            var pending = await signing.RedeemAsync(caller, command.Signature, SignedAction.PreparationCheck, dose.ProductId, t);
            dose.Verify(caller.Actor, clock.GetUtcNow());
            await signing.AppendSignedAsync(pending, SignedActions.Content(PreparedDoses.Content(dose), dose.VerifiedBy, dose.VerifiedAt),
                AuditActor.From(caller), AuditActions.DosePreparationChecked, dose.ParticipantId, t, site: dose.SiteCode, details: $"product {dose.ProductId}");
            units.Record(dose, DoseEventKinds.Verified, caller.Actor, dose.VerifiedAt!.Value, "checked by a second pharmacist", "",
                db.Signatures.Local.Single(x => x.SigningProofId == pending.Proof.Id).AuditSequence);
            await db.SaveChangesAsync(t); // the view reads the signatures back, this one included
            return await PreparedDoses.ViewAsync(signing, orders, dose, t);
        }, ct);
    }
}

/// <summary>The participant's latest prepared dose, unblinded, for the pharmacy. An audited read.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ReadPreparation(TrialDbContext db, ParticipantStore participants, ElectronicSigning signing, AuditedReads reads, ReadDoseOrder orders)
    : UseCase<string, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, string participantId, CancellationToken ct)
    {
        var participant = await TrialParticipant.VisibleAsync(participants, caller, participantId, ct);
        var dose = (await db.DosePreparations.AsNoTracking().Where(d => d.ParticipantId == participant.ParticipantId).ToListAsync(ct)).MaxBy(d => d.Id)
            ?? throw new TrialRuleException(RefusalReason.ProductNotFound, $"No dose has been prepared for participant {participant.ParticipantId}.");
        await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.DosePreparationRead, participant.ParticipantId, participant.SiteCode), ct);
        return await PreparedDoses.ViewAsync(signing, orders, dose, ct);
    }
}

/// <summary>Records the hand-over of a checked dose to the site: when, and the courier or person who carries it.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class DispatchDose(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing, DoseUnits units, ReadDoseOrder orders)
    : UseCase<DispatchDoseCommand, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, DispatchDoseCommand command, CancellationToken ct)
    {
        var courier = string.IsNullOrWhiteSpace(command.Courier) || command.Courier.Length > 200 || command.Courier.Any(char.IsControl)
            ? throw TrialRuleException.Invalid("courier", "courier is required: the courier or person who carries the dose to the site (at most 200 characters).")
            : command.Courier.Trim();
        var at = command.DispatchedAt.Read("dispatched_at");
        return await db.InTransactionAsync(async t =>
        {
            var now = clock.GetUtcNow();
            var when = at ?? now;
            if (when > now.AddMinutes(5)) throw TrialRuleException.Invalid("dispatched_at", "dispatched_at is in the future.");
            var dose = await PreparedDoses.FindAsync(db, command.ProductId, t);
            if (when < dose.PreparedAt.AddMinutes(-5)) throw TrialRuleException.Invalid("dispatched_at", "dispatched_at is before the dose was prepared.");
            dose.Dispatch(courier, caller.Actor, when);
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.DoseDispatched, dose.ParticipantId, t, site: dose.SiteCode,
                details: $"product {dose.ProductId}; dispatched at {when:u} with {courier}");
            await units.MoveAsync(dose, UnitState.Dispensed, caller.Actor, now, $"dispatched with {courier}", sequence, t);
            return await PreparedDoses.ViewAsync(signing, orders, dose, t);
        }, ct);
    }
}

/// <summary>Records that an unused dose came back to the pharmacy (from the site), with the reason.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ReturnDose(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing, DoseUnits units, ReadDoseOrder orders)
    : UseCase<CloseDoseCommand, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, CloseDoseCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        return await db.InTransactionAsync(async t =>
        {
            var dose = await PreparedDoses.FindAsync(db, command.ProductId, t);
            var now = clock.GetUtcNow();
            dose.Return(reason, caller.Actor, now);
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.DoseReturned, dose.ParticipantId, t, site: dose.SiteCode, reason: reason,
                details: $"product {dose.ProductId}");
            await units.MoveAsync(dose, UnitState.Returned, caller.Actor, now, reason, sequence, t);
            return await PreparedDoses.ViewAsync(signing, orders, dose, t);
        }, ct);
    }
}

/// <summary>Records the destruction of an unused, expired or returned dose, with the reason.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class DestroyDose(TrialDbContext db, TimeProvider clock, AuditTrail audit, ElectronicSigning signing, DoseUnits units, ReadDoseOrder orders)
    : UseCase<CloseDoseCommand, PreparedDoseView>
{
    protected override async Task<PreparedDoseView> ExecuteAsync(Caller caller, CloseDoseCommand command, CancellationToken ct)
    {
        var reason = Reasons.Require(command.Reason);
        return await db.InTransactionAsync(async t =>
        {
            var dose = await PreparedDoses.FindAsync(db, command.ProductId, t);
            var now = clock.GetUtcNow();
            dose.Destroy(reason, caller.Actor, now);
            var sequence = await audit.AppendAsync(AuditActor.From(caller), AuditActions.DoseDestroyed, dose.ParticipantId, t, site: dose.SiteCode, reason: reason,
                details: $"product {dose.ProductId}");
            await units.MoveAsync(dose, UnitState.Destroyed, caller.Actor, now, reason, sequence, t);
            return await PreparedDoses.ViewAsync(signing, orders, dose, t);
        }, ct);
    }
}
