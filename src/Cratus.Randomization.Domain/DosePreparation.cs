using System.Security.Cryptography;

namespace Cratus.Randomization.Domain;

/// <summary>
/// Where a prepared dose (the bag) stands, from the pharmacy's preparation to the bedside. Moves only along
/// <see cref="DoseStates.Allowed"/>; Infused, Returned and Destroyed are final for the bag (a returned bag is still
/// destroyed later).
/// </summary>
public enum DoseState
{
    /// <summary>Prepared and signed by the preparing pharmacist; awaits the second pharmacist's check.</summary>
    Prepared = 1,
    /// <summary>Checked and signed by a second pharmacist: released by the pharmacy for dispatch.</summary>
    Verified,
    /// <summary>Handed over to the site (courier or person).</summary>
    Dispatched,
    /// <summary>Scanned at the bedside with the participant's identifier, and matched.</summary>
    VerifiedAtBedside,
    /// <summary>Infused into the participant it was prepared for.</summary>
    Infused,
    /// <summary>Returned to the pharmacy unused.</summary>
    Returned,
    /// <summary>Destroyed by the pharmacy (unused, expired or returned).</summary>
    Destroyed,
}

/// <summary>What happens when a bag reaches the bedside or the infusion after its thaw-to-infusion window.</summary>
public enum PastWindowRule
{
    /// <summary>The bedside verification and the infusion are refused (INFUSION_WINDOW_EXPIRED).</summary>
    Refuse = 1,
    /// <summary>They are accepted, and the protocol deviation is recorded with the dose and in the audit trail.</summary>
    RecordDeviation = 2,
}

/// <summary>
/// The dose handling the trial defines (trial definition <c>doseHandling</c>): how long a thawed product stays usable
/// between the start of its thaw and the start of the infusion (4 hours by default: thawed MSC viability falls
/// quickly), what happens past it, and the storage text on the label. The window applies the same way to the placebo
/// (its preparation start plus the window), so the use-by time never tells the arms apart.
/// </summary>
public sealed record DoseHandlingDefinition
{
    /// <summary>Minutes from thaw start (placebo: preparation start) to the latest infusion start; 240 by default.</summary>
    public int ThawToInfusionMinutes { get; init; } = 240;

    /// <summary>Past the window: refuse, or accept and record a deviation. Never silently.</summary>
    public PastWindowRule PastWindow { get; init; } = PastWindowRule.Refuse;

    /// <summary>The storage line printed on every label, the same for every arm.</summary>
    public string LabelStorage { get; init; } = "Store at 15-25 °C. Do not refrigerate, freeze or irradiate.";

    /// <summary>The window as a duration.</summary>
    public TimeSpan Window => TimeSpan.FromMinutes(ThawToInfusionMinutes);

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (ThawToInfusionMinutes is < 1 or > 48 * 60) problems.Add("doseHandling.thawToInfusionMinutes must be between 1 and 2880 (48 hours)");
        if (!Enum.IsDefined(PastWindow)) problems.Add("doseHandling.pastWindow must be Refuse or RecordDeviation");
        if (string.IsNullOrWhiteSpace(LabelStorage) || LabelStorage.Length > 200) problems.Add("doseHandling.labelStorage must be 1 to 200 characters");
        return problems;
    }
}

public static class DoseStates
{
    /// <summary>The allowed moves of a prepared dose.</summary>
    public static readonly IReadOnlyDictionary<DoseState, DoseState[]> Allowed = new Dictionary<DoseState, DoseState[]>
    {
        [DoseState.Prepared] = [DoseState.Verified, DoseState.Destroyed],
        [DoseState.Verified] = [DoseState.Dispatched, DoseState.Destroyed],
        [DoseState.Dispatched] = [DoseState.VerifiedAtBedside, DoseState.Returned],
        [DoseState.VerifiedAtBedside] = [DoseState.Infused, DoseState.Returned],
        [DoseState.Infused] = [],
        [DoseState.Returned] = [DoseState.Destroyed],
        [DoseState.Destroyed] = [],
    };

    public static bool MayMove(DoseState from, DoseState to) => Allowed[from].Contains(to);

    /// <summary>Whether the dose is still on its way to the participant (a second preparation is refused meanwhile).</summary>
    public static bool IsActive(DoseState state) => state is DoseState.Prepared or DoseState.Verified or DoseState.Dispatched or DoseState.VerifiedAtBedside;

    /// <summary>"verified at bedside": the state in words.</summary>
    public static string Words(DoseState state) => SignedActions.Words(state);
}

/// <summary>The measurements a pharmacist records for a cell preparation (none for the placebo).</summary>
public sealed record CellMeasurements(long PostThawCellCount, decimal PostThawViabilityPercent, long FinalCells, decimal VolumeMilliliters);

/// <summary>
/// Why a scanned bag is not given to the participant in front of the nurse, in words a nurse can act on and without
/// anything that tells the arms apart (never "placebo", "cells" or "units").
/// </summary>
public sealed record BedsideRefusal(RefusalReason Reason, string Message);

/// <summary>
/// One prepared dose: the bag the pharmacy makes for one participant's dose order, cells (from released units of a
/// lot) or the matched placebo, labelled with an opaque product id of the same form for every arm. What it holds is
/// the dose order's (read from the sealed allocation when needed), never a column of its own. Invariants: the
/// preparer and the verifier are different pharmacists; the use-by time is the preparation start plus the trial's
/// window for every arm; the state moves only along <see cref="DoseStates.Allowed"/>; nothing is ever deleted.
/// </summary>
public sealed class DosePreparation
{
    private DosePreparation()
    {
    }

    public long Id { get; private set; }
    /// <summary>The opaque product id on the label and in its QR code ("CP-" and 10 characters, the same form for every arm).</summary>
    public string ProductId { get; private set; } = "";
    public string ParticipantId { get; private set; } = "";
    public string SiteCode { get; private set; } = "";
    // Whether the bag is cells or the placebo is not stored here: it is the dose order's (the sealed arm, or the cohort).
    public DoseState State { get; private set; }

    /// <summary>Thaw start for cells; for placebo, when its preparation started. The window runs from here.</summary>
    public DateTimeOffset PreparationStartedAt { get; private set; }
    /// <summary>The latest infusion start: <see cref="PreparationStartedAt"/> plus the window.</summary>
    public DateTimeOffset UseBy { get; private set; }

    // Unblinded measurements (null for placebo).
    public long? PostThawCellCount { get; private set; }
    public decimal? PostThawViabilityPercent { get; private set; }
    public long? FinalCells { get; private set; }
    public decimal? VolumeMilliliters { get; private set; }
    /// <summary>Unblinded: the unit ids used, space-separated (empty for placebo).</summary>
    public string UnitIds { get; private set; } = "";

    public string PreparedBy { get; private set; } = "";
    public DateTimeOffset PreparedAt { get; private set; }
    public string? VerifiedBy { get; private set; }
    public DateTimeOffset? VerifiedAt { get; private set; }
    public DateTimeOffset? DispatchedAt { get; private set; }
    public string? DispatchedBy { get; private set; }
    /// <summary>The courier or person who carries the bag to the site.</summary>
    public string? Courier { get; private set; }
    public DateTimeOffset? BedsideVerifiedAt { get; private set; }
    public string? BedsideVerifiedBy { get; private set; }
    public DateTimeOffset? InfusedAt { get; private set; }
    /// <summary>A recorded protocol deviation (a verification or infusion past the window), or null.</summary>
    public string? Deviation { get; private set; }
    public DateTimeOffset? ClosedAt { get; private set; }
    public string? ClosedBy { get; private set; }
    /// <summary>Why the bag was returned or destroyed (the latest of the two).</summary>
    public string? ClosedReason { get; private set; }

    /// <summary>A new opaque product id: "CP-" and 10 random Crockford base-32 characters, whatever the arm.</summary>
    public static string NewProductId(RandomNumberGenerator random) => Identifiers.NewOpaqueCode("CP", random);

    /// <summary>Whether <paramref name="productId"/> has the form of a product id (what a scanner or a person may send).</summary>
    public static bool IsValidProductId(string? productId) => Identifiers.IsValidParticipantId(productId);

    /// <summary>
    /// Records a preparation. Cells need measurements and at least <paramref name="requiredCells"/> in the units used
    /// (<paramref name="cellsInUnits"/>, checked for usability by the caller with the units' own rule); the placebo
    /// takes no units and no measurements. The use-by time is computed the same way for both.
    /// </summary>
    public static DosePreparation Prepare(string productId, string participantId, string siteCode, bool placebo, long requiredCells,
        IReadOnlyList<(string UnitId, long Cells)> units, CellMeasurements? measurements, DateTimeOffset startedAt, Actor preparedBy,
        DateTimeOffset now, DoseHandlingDefinition handling)
    {
        if (startedAt > now.AddMinutes(5)) throw TrialRuleException.Invalid("preparation_started_at", "preparation_started_at is in the future.");
        if (startedAt < now - handling.Window - TimeSpan.FromDays(1))
            throw TrialRuleException.Invalid("preparation_started_at", "preparation_started_at is more than a day before its window; record the preparation when it is made.");
        if (placebo)
        {
            if (units.Count > 0) throw TrialRuleException.Invalid("unit_ids", "This dose order is prepared without units: send no unit ids.");
            if (measurements is not null) throw TrialRuleException.Invalid("measurements", "This dose order takes no cell measurements.");
        }
        else
        {
            if (units.Count == 0) throw TrialRuleException.Invalid("unit_ids", "Name the units used for this dose (their unit ids).");
            if (measurements is null) throw TrialRuleException.Invalid("measurements", "Record the post-thaw count and viability, the final cells and the volume.");
            if (measurements.PostThawCellCount < 1) throw TrialRuleException.Invalid("measurements.post_thaw_cell_count", "post_thaw_cell_count must be positive.");
            if (measurements.PostThawViabilityPercent is <= 0 or > 100)
                throw TrialRuleException.Invalid("measurements.post_thaw_viability_percent", "post_thaw_viability_percent must be above 0 and at most 100.");
            if (measurements.FinalCells < 1) throw TrialRuleException.Invalid("measurements.final_cells", "final_cells must be positive.");
            if (measurements.VolumeMilliliters is <= 0 or > 1000)
                throw TrialRuleException.Invalid("measurements.volume_ml", "volume_ml must be above 0 and at most 1000.");
            if (units.Select(u => u.UnitId).Distinct(StringComparer.Ordinal).Count() != units.Count)
                throw TrialRuleException.Invalid("unit_ids", "A unit is named twice.");
            var available = units.Sum(u => u.Cells);
            if (available < requiredCells)
                throw new TrialRuleException(RefusalReason.ProductCellsInsufficient,
                    $"The units named hold {available:N0} cells; the dose needs {requiredCells:N0}. Add units from a released lot.");
            if (measurements.FinalCells < requiredCells)
                throw new TrialRuleException(RefusalReason.ProductCellsInsufficient,
                    $"The final cells ({measurements.FinalCells:N0}) are fewer than the dose needs ({requiredCells:N0}).");
        }
        return new DosePreparation
        {
            ProductId = productId,
            ParticipantId = participantId,
            SiteCode = siteCode,
            State = DoseState.Prepared,
            PreparationStartedAt = startedAt,
            UseBy = startedAt + handling.Window,
            PostThawCellCount = measurements?.PostThawCellCount,
            PostThawViabilityPercent = measurements?.PostThawViabilityPercent,
            FinalCells = measurements?.FinalCells,
            VolumeMilliliters = measurements?.VolumeMilliliters,
            UnitIds = string.Join(' ', units.Select(u => u.UnitId)),
            PreparedBy = preparedBy.Subject,
            PreparedAt = now,
        };
    }

    /// <summary>The refusal of a second preparation while <paramref name="active"/> is still on its way.</summary>
    public static TrialRuleException AlreadyPrepared(DosePreparation active) =>
        new(RefusalReason.DoseAlreadyPrepared,
            $"Participant {active.ParticipantId} has a prepared dose ({active.ProductId}, {DoseStates.Words(active.State)}); return or destroy it before preparing another.");

    /// <summary>The two-person check: a different pharmacist verifies and releases the dose for dispatch.</summary>
    public void Verify(Actor by, DateTimeOffset now)
    {
        if (string.Equals(by.Subject, PreparedBy, StringComparison.Ordinal))
            throw new TrialRuleException(RefusalReason.SecondPharmacistRequired,
                $"You prepared {ProductId}: a second pharmacist must check it.");
        Move(DoseState.Verified, "verified");
        VerifiedBy = by.Subject;
        VerifiedAt = now;
    }

    /// <summary>Hands the verified dose over to the site.</summary>
    public void Dispatch(string courier, Actor by, DateTimeOffset now)
    {
        if (State == DoseState.Prepared) throw NotReady($"{ProductId} has not been checked by a second pharmacist; it cannot be dispatched.");
        Move(DoseState.Dispatched, "dispatched");
        Courier = courier;
        DispatchedBy = by.Subject;
        DispatchedAt = now;
    }

    /// <summary>
    /// The bedside rule, for a bag scanned with <paramref name="participantId"/> at <paramref name="now"/>: null when
    /// the bag may be given (prepared for this participant, checked by two pharmacists, dispatched, within its window
    /// or past it with the trial recording deviations), otherwise why not. Blinded: every fact it reads is one a placebo
    /// bag has too. The lots a bag was made from are not read here (a placebo has none, so a lot-based refusal would
    /// name a cell bag): a bag from a lot quarantined since is recalled by the pharmacy (ReturnDose), which the bedside
    /// then refuses as returned, exactly as it refuses a returned placebo bag.
    /// </summary>
    public BedsideRefusal? BedsideProblem(string participantId, DateTimeOffset now, DoseHandlingDefinition handling)
    {
        if (!string.Equals(participantId, ParticipantId, StringComparison.Ordinal))
            return new(RefusalReason.DoseWrongParticipant, $"This bag ({ProductId}) was not prepared for participant {participantId}. Do not infuse it; call the pharmacy.");
        if (State is DoseState.Infused or DoseState.Returned or DoseState.Destroyed)
            return new(RefusalReason.DoseStateNotAllowed, $"This bag ({ProductId}) is recorded as {DoseStates.Words(State)}. Do not infuse it; call the pharmacy.");
        if (VerifiedBy is null)
            return new(RefusalReason.DoseNotReleased, $"This bag ({ProductId}) is not released by the pharmacy. Do not infuse it; call the pharmacy.");
        if (DispatchedAt is null)
            return new(RefusalReason.DoseStateNotAllowed, $"This bag ({ProductId}) is not recorded as dispatched to the site. Do not infuse it; call the pharmacy.");
        if (now > UseBy && handling.PastWindow == PastWindowRule.Refuse)
            return new(RefusalReason.InfusionWindowExpired,
                $"This bag ({ProductId}) was to be infused by {UseBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC; its window has passed. Do not infuse it; call the pharmacy.");
        return null;
    }

    /// <summary>Records a successful bedside verification; past the window (trial recording deviations) the deviation too.</summary>
    public void VerifyAtBedside(Actor by, DateTimeOffset now)
    {
        if (State != DoseState.VerifiedAtBedside) Move(DoseState.VerifiedAtBedside, "verified at the bedside");
        BedsideVerifiedBy = by.Subject;
        BedsideVerifiedAt = now;
        if (now > UseBy) RecordDeviation($"verified at the bedside at {now.UtcDateTime:yyyy-MM-dd HH:mm} UTC, after its use-by time {UseBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC");
    }

    /// <summary>
    /// The infusion gate: the bag must have been verified at the bedside for this participant, and the infusion must
    /// start within the window (or past it, recorded as a deviation, when the trial says so). Returns the deviation
    /// recorded by this infusion, or null.
    /// </summary>
    public string? Infuse(DateTimeOffset infusedAt, DoseHandlingDefinition handling)
    {
        if (State != DoseState.VerifiedAtBedside)
            throw new TrialRuleException(RefusalReason.BedsideVerificationRequired,
                $"The bag for participant {ParticipantId} has not been verified at the bedside; scan it with the participant's identifier first.");
        if (infusedAt < PreparationStartedAt)
            throw TrialRuleException.Invalid("infused_at", $"infused_at is before the product's preparation ({PreparationStartedAt:u}).");
        string? deviation = null;
        if (infusedAt > UseBy)
        {
            if (handling.PastWindow == PastWindowRule.Refuse)
                throw new TrialRuleException(RefusalReason.InfusionWindowExpired,
                    $"The infusion time {infusedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC is after the bag's use-by time {UseBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC; this bag may not be infused.");
            deviation = $"infusion started at {infusedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC, after its use-by time {UseBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC";
            RecordDeviation(deviation);
        }
        Move(DoseState.Infused, "infused");
        InfusedAt = infusedAt;
        return deviation;
    }

    /// <summary>The pharmacy takes an unused bag back (from the site), with the reason.</summary>
    public void Return(string reason, Actor by, DateTimeOffset now) => Close(DoseState.Returned, reason, by, now);

    /// <summary>The pharmacy destroys an unused, expired or returned bag, with the reason.</summary>
    public void Destroy(string reason, Actor by, DateTimeOffset now) => Close(DoseState.Destroyed, reason, by, now);

    private void Close(DoseState to, string reason, Actor by, DateTimeOffset now)
    {
        var why = Reasons.Require(reason);
        Move(to, DoseStates.Words(to));
        ClosedReason = why; // the return's reason stays in the audit trail when the bag is then destroyed
        ClosedBy = by.Subject;
        ClosedAt = now;
    }

    private void RecordDeviation(string deviation) => Deviation = Deviation is null ? deviation : $"{Deviation}; {deviation}";

    private void Move(DoseState to, string what)
    {
        if (!DoseStates.MayMove(State, to))
            throw new TrialRuleException(RefusalReason.DoseStateNotAllowed,
                $"{ProductId} is {DoseStates.Words(State)}: it cannot be {what} now.");
        State = to;
    }

    private static TrialRuleException NotReady(string message) => new(RefusalReason.DoseNotReleased, message);
}
