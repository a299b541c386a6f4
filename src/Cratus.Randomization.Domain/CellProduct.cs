using System.Globalization;

namespace Cratus.Randomization.Domain;

/// <summary>
/// Where a cryopreserved unit (vial or bag) of a donor lot stands (DOMAIN.md, "The cell product and its chain of
/// identity"). A unit changes state only along <see cref="UnitStates.Allowed"/>; each change is a
/// <see cref="ProductEvent"/> saying who, when and why.
/// </summary>
public enum UnitState
{
    /// <summary>Not (or no longer) released by quality assurance: never used for a dose.</summary>
    InQuarantine = 1,
    /// <summary>Released by quality assurance: usable while in date.</summary>
    Released,
    /// <summary>Set aside by the pharmacy for one dose preparation.</summary>
    Reserved,
    /// <summary>Thawed for a dose preparation; from here it is used or destroyed.</summary>
    Thawed,
    /// <summary>Part of a prepared dose handed over to the site.</summary>
    Dispensed,
    /// <summary>Infused into the participant.</summary>
    Infused,
    /// <summary>Came back to the pharmacy unused.</summary>
    Returned,
    /// <summary>Destroyed by the pharmacy, with its reason. Final.</summary>
    Destroyed,
    /// <summary>Past its expiry date: never used again, only destroyed.</summary>
    Expired,
}

/// <summary>The unit state machine: which moves are allowed, and the words shown for a state.</summary>
public static class UnitStates
{
    private static readonly IReadOnlyDictionary<UnitState, UnitState[]> Moves = new Dictionary<UnitState, UnitState[]>
    {
        [UnitState.InQuarantine] = [UnitState.Released, UnitState.Destroyed, UnitState.Expired],
        [UnitState.Released] = [UnitState.Reserved, UnitState.InQuarantine, UnitState.Expired, UnitState.Destroyed],
        [UnitState.Reserved] = [UnitState.Thawed, UnitState.Released, UnitState.InQuarantine],
        [UnitState.Thawed] = [UnitState.Dispensed, UnitState.Destroyed],
        [UnitState.Dispensed] = [UnitState.Infused, UnitState.Returned],
        [UnitState.Returned] = [UnitState.Destroyed],
        [UnitState.Expired] = [UnitState.Destroyed],
        [UnitState.Infused] = [],
        [UnitState.Destroyed] = [],
    };

    /// <summary>Whether a unit in <paramref name="from"/> may move to <paramref name="to"/>.</summary>
    public static bool Allowed(UnitState from, UnitState to) => Moves.TryGetValue(from, out var next) && next.Contains(to);

    /// <summary>The states a unit in <paramref name="from"/> may move to.</summary>
    public static IReadOnlyList<UnitState> Next(UnitState from) => Moves.TryGetValue(from, out var next) ? next : [];

    /// <summary>"in quarantine" for InQuarantine: the state as a pharmacist reads it.</summary>
    public static string Words(UnitState state) => SignedActions.Words(state);

    /// <summary>States in which the unit has not left the pharmacy's stock, so its expiry can still overtake it.</summary>
    public static bool InStock(UnitState state) => state is UnitState.InQuarantine or UnitState.Released or UnitState.Reserved;
}

/// <summary>
/// The ISBT 128 donation identification number (DIN): 13 characters (facility identification number of 5, year of
/// 2 digits, sequence of 6 digits) followed by one check character computed with ISO/IEC 7064 mod 37-2 over the 13
/// (ICCBBA ST-001; worked example G123 498 654 321 → H in the JPAC Red Book, annex 2).
/// </summary>
public static class DonationIdentificationNumber
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

    /// <summary>The length of a DIN without its check character.</summary>
    public const int Length = 13;

    /// <summary>Whether <paramref name="first13"/> has the DIN form: 5 facility characters (letters or digits), then 8 digits.</summary>
    public static bool HasForm(string? first13) =>
        first13 is { Length: Length } s && s[..5].All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterUpper(c)) && s[5..].All(char.IsAsciiDigit);

    /// <summary>The ISO/IEC 7064 mod 37-2 check character of <paramref name="first13"/> (0-9, A-Z or *).</summary>
    public static char CheckCharacter(string first13)
    {
        if (!HasForm(first13))
            throw new ArgumentException("a DIN is 5 facility characters (A-Z, 0-9) and 8 digits", nameof(first13));
        var sum = 0;
        foreach (var c in first13)
            sum = (sum + Alphabet.IndexOf(c, StringComparison.Ordinal)) * 2 % 37;
        return Alphabet[(38 - sum) % 37];
    }

    /// <summary>Whether <paramref name="din"/> is a 13-character DIN followed by its correct check character.</summary>
    public static bool IsValid(string? din) =>
        din is { Length: Length + 1 } && HasForm(din[..Length]) && CheckCharacter(din[..Length]) == din[Length];

    /// <summary>Whether <paramref name="unitId"/> looks like it is meant as a DIN (14 characters in the DIN's form), so a wrong check character is refused rather than taken as a sponsor id.</summary>
    public static bool LooksLikeDin(string? unitId) =>
        unitId is { Length: Length + 1 } && HasForm(unitId[..Length]) && Alphabet.Contains(unitId[Length], StringComparison.Ordinal);
}

/// <summary>
/// One manufacturing lot of allogeneic cells from one (coded) donor, registered by the pharmacy in quarantine and
/// released by quality assurance with an electronic signature, or quarantined again. Its units are
/// <see cref="ProductUnit"/>s.
/// </summary>
public sealed class ProductLot
{
    private ProductLot()
    {
    }

    public long Id { get; private set; }
    /// <summary>The manufacturer's lot number, unique in the trial.</summary>
    public string LotNumber { get; private set; } = "";
    /// <summary>The donor's code (never a name).</summary>
    public string DonorCode { get; private set; } = "";
    /// <summary>The ISBT 128 product code (or the sponsor's product code).</summary>
    public string ProductCode { get; private set; } = "";
    public DateTimeOffset Expiry { get; private set; }
    public DateTimeOffset RegisteredAt { get; private set; }
    public string RegisteredBy { get; private set; } = "";
    public DateTimeOffset? ReleasedAt { get; private set; }
    public string? ReleasedBy { get; private set; }
    /// <summary>Released although a release criterion was not met, with <see cref="ReleaseJustification"/>.</summary>
    public bool ExceptionalRelease { get; private set; }
    public string? ReleaseJustification { get; private set; }
    /// <summary>When quality assurance last quarantined the lot (null if never or released since).</summary>
    public DateTimeOffset? QuarantinedAt { get; private set; }
    public string? QuarantinedBy { get; private set; }
    public string? QuarantineReason { get; private set; }

    /// <summary>Whether the lot stands released (released and not quarantined since).</summary>
    public bool IsReleased => ReleasedAt is not null && QuarantinedAt is null;

    /// <summary>A new lot, in quarantine until released. Checks the fields; the units are checked by <see cref="ProductUnit.Register"/>.</summary>
    public static ProductLot Register(string lotNumber, string donorCode, string productCode, DateTimeOffset expiry, Actor by, DateTimeOffset at)
    {
        var violations = new List<FieldViolation>();
        if (!IsLabelText(lotNumber, 32)) violations.Add(new("lot_number", "lot_number is required: 1 to 32 letters, digits, '-', '_', '.' or '/'."));
        if (!IsLabelText(donorCode, 32)) violations.Add(new("donor_code", "donor_code is required: the donor's code, 1 to 32 letters, digits, '-', '_', '.' or '/' (never a name)."));
        if (!IsLabelText(productCode, 16)) violations.Add(new("product_code", "product_code is required: the ISBT 128 product code (for example E0001V00), 1 to 16 characters."));
        if (expiry <= at) violations.Add(new("expiry", "expiry must be in the future: an expired lot is not registered."));
        if (violations.Count > 0) throw new TrialRuleException(RefusalReason.RequestInvalid, string.Join(" ", violations.Select(v => v.Description)), violations);
        return new ProductLot
        {
            LotNumber = lotNumber.Trim(),
            DonorCode = donorCode.Trim(),
            ProductCode = productCode.Trim(),
            Expiry = expiry,
            RegisteredAt = at,
            RegisteredBy = by.Subject,
        };
    }

    /// <summary>
    /// Quality assurance releases the lot (again, after a quarantine). An exceptional release needs its justification.
    /// Refused when the lot stands released already or has expired.
    /// </summary>
    public void Release(Actor by, DateTimeOffset at, bool exceptional, string? justification)
    {
        if (IsReleased)
            throw new TrialRuleException(RefusalReason.LotAlreadyReleased, $"Lot {LotNumber} was released already by {ReleasedBy} at {ReleasedAt:u}.");
        if (Expiry <= at)
            throw new TrialRuleException(RefusalReason.LotExpired, $"Lot {LotNumber} expired at {Expiry:u}; an expired lot is not released.");
        string? reason = null;
        if (exceptional) reason = Reasons.Require(justification, "justification");
        else if (!string.IsNullOrWhiteSpace(justification))
            throw TrialRuleException.Invalid("justification", "A justification is given only for an exceptional release.");
        ReleasedAt = at;
        ReleasedBy = by.Subject;
        ExceptionalRelease = exceptional;
        ReleaseJustification = reason;
        QuarantinedAt = null;
        QuarantinedBy = null;
        QuarantineReason = null;
    }

    /// <summary>Quality assurance quarantines the lot, with a reason: none of its units is usable until released again.</summary>
    public void Quarantine(Actor by, DateTimeOffset at, string reason)
    {
        QuarantineReason = Reasons.Require(reason);
        QuarantinedAt = at;
        QuarantinedBy = by.Subject;
    }

    private static bool IsLabelText(string? value, int max) =>
        !string.IsNullOrWhiteSpace(value) && value.Trim().Length <= max && value.Trim().All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/');
}

/// <summary>
/// One cryopreserved unit (vial or bag) of a lot, named by its ISBT 128 DIN (with check character) or the sponsor's
/// unit id. It moves only along the allowed transitions (<see cref="UnitStates"/>); past its expiry it is never usable.
/// </summary>
public sealed class ProductUnit
{
    private ProductUnit()
    {
    }

    public long Id { get; private set; }
    /// <summary>The DIN (13 characters and the check character) or the sponsor's unit id, unique in the trial.</summary>
    public string UnitId { get; private set; } = "";
    public long LotId { get; private set; }
    public long CellsPerUnit { get; private set; }
    /// <summary>Viability at release, in percent (0-100).</summary>
    public decimal ViabilityAtRelease { get; private set; }
    public DateTimeOffset Expiry { get; private set; }
    public string StorageLocation { get; private set; } = "";
    public UnitState State { get; private set; }
    /// <summary>The dose preparation the unit was reserved for (set by the pharmacy's preparation).</summary>
    public long? PreparationId { get; private set; }
    /// <summary>A temperature excursion or damage was reported: the unit stays in quarantine when its lot is released again.</summary>
    public bool ExcursionReported { get; private set; }
    /// <summary>Concurrency token: two writers moving one unit cannot both win.</summary>
    public int Version { get; private set; }

    /// <summary>A unit id is a DIN with its check character, or a sponsor's id of 1 to 32 letters, digits, '-' or '_'.</summary>
    public static string? UnitIdProblem(string? unitId)
    {
        if (string.IsNullOrWhiteSpace(unitId) || unitId.Length > 32 || !unitId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*'))
            return "a unit id is the ISBT 128 DIN (13 characters and the check character) or the sponsor's unit id (1 to 32 letters, digits, '-' or '_').";
        if (DonationIdentificationNumber.LooksLikeDin(unitId) && !DonationIdentificationNumber.IsValid(unitId))
            return $"{unitId} is not a valid ISBT 128 DIN: its check character should be {DonationIdentificationNumber.CheckCharacter(unitId[..DonationIdentificationNumber.Length])}, not {unitId[^1]}. Check the number on the unit's label.";
        if (unitId.Contains('*', StringComparison.Ordinal))
            return "'*' is allowed only as a DIN's check character.";
        return null;
    }

    /// <summary>A new unit of <paramref name="lot"/> in quarantine (the lot is not released yet); the lot's expiry unless the unit's own is earlier.</summary>
    public static ProductUnit Register(ProductLot lot, string unitId, long cellsPerUnit, decimal viabilityAtRelease, DateTimeOffset? expiry, string storageLocation, string field)
    {
        var violations = new List<FieldViolation>();
        if (UnitIdProblem(unitId) is { } problem) violations.Add(new($"{field}.unit_id", problem));
        if (cellsPerUnit <= 0 || cellsPerUnit > 100_000_000_000) violations.Add(new($"{field}.cells_per_unit", "cells_per_unit is required: the number of cells in the unit (1 to 10^11)."));
        if (viabilityAtRelease is <= 0 or > 100) violations.Add(new($"{field}.viability_percent", "viability_percent is the viability at release, above 0 and at most 100."));
        if (expiry is { } e && e > lot.Expiry) violations.Add(new($"{field}.expiry", "a unit's expiry cannot be later than its lot's."));
        if (string.IsNullOrWhiteSpace(storageLocation) || storageLocation.Length > 64 || storageLocation.Any(char.IsControl))
            violations.Add(new($"{field}.storage_location", "storage_location is required: where the unit is stored (1 to 64 characters, for example 'LN2 tank 2, rack B, box 4')."));
        if (violations.Count > 0) throw new TrialRuleException(RefusalReason.RequestInvalid, string.Join(" ", violations.Select(v => v.Description)), violations);
        return new ProductUnit
        {
            UnitId = unitId,
            LotId = lot.Id,
            CellsPerUnit = cellsPerUnit,
            ViabilityAtRelease = decimal.Round(viabilityAtRelease, 1),
            Expiry = expiry ?? lot.Expiry,
            StorageLocation = storageLocation.Trim(),
            State = UnitState.InQuarantine,
        };
    }

    /// <summary>Links the unit to its lot once the lot has its key.</summary>
    public void BelongTo(ProductLot lot) => LotId = lot.Id;

    /// <summary>Whether the unit may go into a dose now: released and in date.</summary>
    public bool IsUsable(DateTimeOffset now) => State == UnitState.Released && Expiry > now;

    /// <summary>The state as it stands at <paramref name="now"/>: a unit still in stock past its expiry reads as expired even before anyone moves it.</summary>
    public UnitState StateAt(DateTimeOffset now) => UnitStates.InStock(State) && Expiry <= now ? UnitState.Expired : State;

    /// <summary>
    /// Moves the unit to <paramref name="to"/> and answers the event to store (who, role, when, why); refuses a move the
    /// state machine does not allow, naming the states. Moving an in-stock unit past its expiry anywhere but to
    /// Expired or Destroyed is refused too.
    /// </summary>
    public ProductEvent MoveTo(UnitState to, Actor by, DateTimeOffset at, string reason, string kind = ProductEventKinds.UnitStateChanged, string detail = "")
    {
        var why = Reasons.Require(reason);
        if (!UnitStates.Allowed(State, to))
        {
            var allowed = UnitStates.Next(State);
            throw new TrialRuleException(RefusalReason.UnitTransitionNotAllowed,
                $"Unit {UnitId} is {UnitStates.Words(State)}; it cannot become {UnitStates.Words(to)}"
                + (allowed.Count == 0 ? " (no further change is possible)." : $" (it can become: {string.Join(", ", allowed.Select(UnitStates.Words))})."));
        }
        if (Expiry <= at && to is UnitState.Released or UnitState.Reserved or UnitState.Thawed)
            throw new TrialRuleException(RefusalReason.UnitNotUsable, $"Unit {UnitId} expired at {Expiry.ToString("u", CultureInfo.InvariantCulture)}; it is never used again.");
        var from = State;
        State = to;
        Version++;
        return new ProductEvent
        {
            UnitId = Id,
            LotId = LotId,
            PreparationId = PreparationId,
            Kind = kind,
            From = from,
            To = to,
            At = at,
            By = by.Subject,
            Role = by.Role,
            Reason = why,
            Detail = detail,
        };
    }

    /// <summary>Reserves the unit for a dose preparation (Released → Reserved); refused unless usable now.</summary>
    public ProductEvent ReserveFor(long preparationId, string? participantId, Actor by, DateTimeOffset at, string reason, string detail = "")
    {
        EnsureUsable(at);
        PreparationId = preparationId;
        var e = MoveTo(UnitState.Reserved, by, at, reason, ProductEventKinds.UnitReserved, detail);
        e.ParticipantId = participantId;
        return e;
    }

    /// <summary>Refuses, with the reason, a unit that may not go into a dose now (not released, quarantined, expired, used).</summary>
    public void EnsureUsable(DateTimeOffset now)
    {
        if (IsUsable(now)) return;
        var why = StateAt(now) switch
        {
            UnitState.Expired => $"it expired at {Expiry.ToString("u", CultureInfo.InvariantCulture)}",
            UnitState.InQuarantine => ExcursionReported ? "it is in quarantine after a reported excursion" : "it is in quarantine (its lot is not released)",
            var s => $"it is {UnitStates.Words(s)}",
        };
        throw new TrialRuleException(RefusalReason.UnitNotUsable, $"Unit {UnitId} cannot be used: {why}.");
    }

    /// <summary>Records a temperature excursion or damage: the unit is held in quarantine (if it was released or reserved) until destroyed.</summary>
    public ProductEvent? ReportExcursion(Actor by, DateTimeOffset at, string reason, string detail)
    {
        ExcursionReported = true;
        if (State is UnitState.Released or UnitState.Reserved)
        {
            PreparationId = null;
            return MoveTo(UnitState.InQuarantine, by, at, reason, ProductEventKinds.UnitExcursion, detail);
        }
        Version++;
        return null;
    }

    /// <summary>A reservation cancelled: back to Released, no longer tied to the preparation.</summary>
    public ProductEvent CancelReservation(Actor by, DateTimeOffset at, string reason)
    {
        var e = MoveTo(UnitState.Released, by, at, reason, ProductEventKinds.UnitReservationCancelled);
        PreparationId = null;
        return e;
    }
}

/// <summary>The kinds of chain-of-custody event; each is shown to people in words ("lot released").</summary>
public static class ProductEventKinds
{
    public const string LotRegistered = "lot.registered";
    public const string LotReleased = "lot.released";
    public const string LotQuarantined = "lot.quarantined";
    public const string UnitRegistered = "unit.registered";
    public const string UnitStateChanged = "unit.state_changed";
    public const string UnitReleased = "unit.released";
    public const string UnitQuarantined = "unit.quarantined";
    public const string UnitExcursion = "unit.excursion";
    public const string UnitReserved = "unit.reserved";
    public const string UnitReservationCancelled = "unit.reservation_cancelled";
    public const string UnitExpired = "unit.expired";
    public const string UnitReturned = "unit.returned";
    public const string UnitDestroyed = "unit.destroyed";
}

/// <summary>
/// One stored chain-of-custody event (table ProductEvents): a lot's registration, release or quarantine, a unit's
/// change of state, a dose's preparation, dispatch, bedside check or infusion. Attributable (by, role, at, reason) and
/// linked to the audit event stored in the same transaction (<see cref="AuditSequence"/>). <see cref="Detail"/> is
/// unblinded (cells, volume, viability) and never shown to a blinded caller.
/// </summary>
public sealed class ProductEvent
{
    public long Id { get; set; }
    /// <summary>The lot concerned (lot events, and the lot of a unit's event).</summary>
    public long? LotId { get; set; }
    /// <summary>The unit concerned (its <see cref="ProductUnit.Id"/>), if any.</summary>
    public long? UnitId { get; set; }
    /// <summary>The dose preparation concerned, if any.</summary>
    public long? PreparationId { get; set; }
    /// <summary>The participant concerned, if any (never shown with a unit to a blinded caller).</summary>
    public string? ParticipantId { get; set; }
    /// <summary>What happened (<see cref="ProductEventKinds"/>, or a dose event kind).</summary>
    public string Kind { get; set; } = "";
    public UnitState? From { get; set; }
    public UnitState? To { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>The user or client who did it.</summary>
    public string By { get; set; } = "";
    /// <summary>The role they acted in.</summary>
    public string Role { get; set; } = "";
    public string Reason { get; set; } = "";
    /// <summary>Unblinded detail (cells, volume, viability, thaw); never shown to a blinded caller.</summary>
    public string Detail { get; set; } = "";
    /// <summary>The sequence of the audit event stored with this one.</summary>
    public long? AuditSequence { get; set; }
}
