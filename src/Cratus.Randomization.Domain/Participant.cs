namespace Cratus.Randomization.Domain;

/// <summary>The phase a participant takes part in.</summary>
public enum TrialPhase
{
    /// <summary>Phase I: open-label dose escalation, a place in a cohort.</summary>
    DoseEscalation,
    /// <summary>Phase II: randomized, double-blind, an entry of the concealed schedule.</summary>
    Randomized,
}

/// <summary>Where a participant stands. Withdrawal is final; an infusion comes after enrolment or randomization.</summary>
public enum ParticipantStatus
{
    /// <summary>Phase I: holds a place in a cohort, not infused yet.</summary>
    Enrolled,
    /// <summary>Phase II: holds a schedule entry, not infused yet.</summary>
    Randomized,
    Infused,
    Withdrawn,
}

/// <summary>Why a randomized participant was randomized in error (ICH E9: they stay randomized and in the analysis).</summary>
public enum RandomizedInErrorType
{
    /// <summary>Found ineligible after randomization (an exclusion criterion met, or an inclusion criterion not).</summary>
    Ineligible = 1,
    /// <summary>Randomized in the wrong stratum: the sex or the site recorded at randomization was wrong.</summary>
    WrongStratum = 2,
}

/// <summary>Who did something, as the record keeps it: the user or client, and the role they acted in.</summary>
public sealed record Actor(string Subject, string Role);

/// <summary>
/// One person in the trial, in either phase (DOMAIN.md: a participant takes part once). Phase I participants hold a
/// cohort and a place in it; Phase II participants hold a schedule entry of their stratum (its arm stays sealed in
/// the schedule). Enrolment, infusion, withdrawal and emergency unblinding are recorded here, once for both phases;
/// each method refuses what the protocol does not allow. Nothing is ever deleted.
/// </summary>
public sealed class Participant
{
    private Participant()
    {
    }

    public long Id { get; private set; }
    public string ParticipantId { get; private set; } = "";
    public TrialPhase Phase { get; private set; }
    public ParticipantStatus Status { get; private set; }
    public string SiteCode { get; private set; } = "";
    public string ScreeningId { get; private set; } = "";
    /// <summary>The client's request id of the enrolment or randomization (AIP-155).</summary>
    public string RequestId { get; private set; } = "";
    /// <summary>The opaque code on the product's label: the same form for every arm and dose.</summary>
    public string ProductCode { get; private set; } = "";
    /// <summary>When the participant was enrolled in a cohort (Phase I) or randomized (Phase II).</summary>
    public DateTimeOffset EnrolledAt { get; private set; }
    public string EnrolledBy { get; private set; } = "";
    public string EnrolledByRole { get; private set; } = "";

    /// <summary>Phase I: the cohort, which decides the dose.</summary>
    public int? Cohort { get; private set; }
    /// <summary>Phase I: the place in the cohort (1 to its size); null once given back by a withdrawal before infusion.</summary>
    public int? Place { get; private set; }

    /// <summary>Phase II: the stratum key ("UM/F") and the position of the participant's entry in its list.</summary>
    public string? Stratum { get; private set; }
    public int? StratumSequence { get; private set; }
    public long? ScheduleEntryId { get; private set; }

    /// <summary>"keyId:base64" of the keyed MAC binding the allocation (<see cref="AllocationBinding"/>); checked on every read.</summary>
    public string AllocationSeal { get; private set; } = "";

    // The eligibility snapshot (no date of birth is kept).
    public DateOnly ConsentDate { get; private set; }
    public int AgeAtConsent { get; private set; }
    public Sex Sex { get; private set; }
    public int ClinicalFrailtyScale { get; private set; }
    public int MmseScore { get; private set; }

    public DateTimeOffset? InfusedAt { get; private set; }
    public string? InfusionRecordedBy { get; private set; }
    public DateTimeOffset? WithdrawnAt { get; private set; }
    public string? WithdrawalReason { get; private set; }
    /// <summary>Set once, by an investigator's emergency unblinding (Phase II).</summary>
    public DateTimeOffset? EmergencyUnblindedAt { get; private set; }
    public string? EmergencyUnblindedBy { get; private set; }

    /// <summary>When an investigator marked the participant randomized in error (signed); null when never marked.</summary>
    public DateTimeOffset? RandomizedInErrorAt { get; private set; }
    /// <summary>What the error was: found ineligible, or randomized in the wrong stratum.</summary>
    public RandomizedInErrorType? RandomizedInErrorType { get; private set; }
    /// <summary>The investigator's reason for the mark, as signed.</summary>
    public string? RandomizedInErrorReason { get; private set; }
    /// <summary>Wrong stratum: the participant's true sex, when the sex recorded at randomization was wrong.</summary>
    public Sex? CorrectSex { get; private set; }
    /// <summary>Wrong stratum: the site the participant truly belongs to, when the site recorded at randomization was wrong.</summary>
    public string? CorrectSiteCode { get; private set; }
    /// <summary>The investigator who marked (and signed) the error.</summary>
    public string? RandomizedInErrorBy { get; private set; }

    /// <summary>A new Phase I participant in <paramref name="cohort"/>, at <paramref name="place"/>.</summary>
    public static Participant EnrolInCohort(string participantId, Admitted person, int cohort, int place, string productCode, DateTimeOffset at, Actor by) =>
        new(participantId, TrialPhase.DoseEscalation, person, productCode, at, by) { Cohort = cohort, Place = place };

    /// <summary>A new Phase II participant holding the schedule entry <paramref name="entryId"/> at <paramref name="sequence"/> of <paramref name="stratum"/>.</summary>
    public static Participant Randomize(string participantId, Admitted person, string stratum, int sequence, long entryId, string productCode,
        DateTimeOffset at, Actor by) =>
        // Whole seconds: the reply's encoded size must not vary, and sub-second precision serves no one.
        new(participantId, TrialPhase.Randomized, person, productCode, new DateTimeOffset(at.Ticks - at.Ticks % TimeSpan.TicksPerSecond, at.Offset), by)
        {
            Stratum = stratum,
            StratumSequence = sequence,
            ScheduleEntryId = entryId,
        };

    private Participant(string participantId, TrialPhase phase, Admitted person, string productCode, DateTimeOffset at, Actor by)
    {
        ParticipantId = participantId;
        Phase = phase;
        Status = phase == TrialPhase.DoseEscalation ? ParticipantStatus.Enrolled : ParticipantStatus.Randomized;
        SiteCode = person.SiteCode;
        ScreeningId = person.ScreeningId;
        RequestId = person.RequestId;
        ProductCode = productCode;
        EnrolledAt = at;
        EnrolledBy = by.Subject;
        EnrolledByRole = by.Role;
        ConsentDate = person.Eligibility.ConsentDate;
        AgeAtConsent = person.Eligibility.AgeAtConsent;
        Sex = person.Eligibility.Sex;
        ClinicalFrailtyScale = person.Eligibility.ClinicalFrailtyScale;
        MmseScore = person.Eligibility.MmseScore;
    }

    /// <summary>Seals the allocation just made; the seal is computed by the host, which holds the key.</summary>
    public void Seal(string seal) => AllocationSeal = AllocationSeal.Length == 0 ? seal
        : throw new InvalidOperationException("an allocation is sealed once, when it is made");

    /// <summary>Moves the seal to the active key when keys rotate; the facts it binds are unchanged (checked by the caller first).</summary>
    public void Reseal(string seal) => AllocationSeal = seal;

    /// <summary>What the seal of a Phase I placement binds.</summary>
    public CohortEnrolmentFacts CohortFacts() => new(ParticipantId, SiteCode, ScreeningId,
        Cohort ?? throw new InvalidOperationException("not a dose-escalation participant"), ProductCode);

    /// <summary>The participant as the escalation rules count them.</summary>
    public CohortParticipant AsCohortParticipant() => new(ParticipantId, SiteCode, Cohort ?? 0, EnrolledAt, InfusedAt, WithdrawnAt);

    /// <summary>
    /// Records the infusion given at <paramref name="at"/>. The same infusion recorded again is accepted as it is (a
    /// retry: <see cref="InfusionRecord.Recorded"/> is false); another time is refused, as is an infusion after
    /// withdrawal, before enrolment or in the future.
    /// </summary>
    public InfusionRecord RecordInfusion(DateTimeOffset at, string recordedBy, DateTimeOffset now, int safetyWindowDays)
    {
        if (at > now.AddMinutes(5)) throw TrialRuleException.Invalid("infused_at", "infused_at is in the future.");
        if (WithdrawnAt is not null)
            throw new TrialRuleException(RefusalReason.ParticipantWithdrawn, $"Participant {ParticipantId} withdrew on {WithdrawnAt:yyyy-MM-dd}; no infusion can be recorded.");
        if (at < EnrolledAt)
            throw TrialRuleException.Invalid("infused_at", $"infused_at is before the participant's enrolment ({EnrolledAt:u}).");
        if (InfusedAt is { } recorded && recorded != at)
            throw new TrialRuleException(RefusalReason.InfusionAlreadyRecorded, $"An infusion was already recorded for {ParticipantId} at {recorded:u}.");
        var recordedNow = InfusedAt is null;
        if (recordedNow)
        {
            InfusedAt = at;
            InfusionRecordedBy = recordedBy;
            Status = ParticipantStatus.Infused;
        }
        return new InfusionRecord(at, at + TimeSpan.FromDays(safetyWindowDays), recordedNow);
    }

    /// <summary>
    /// Records the withdrawal. In Phase I, a participant withdrawn before infusion gives the cohort place back when the
    /// trial replaces such participants (returns true); an infused participant always keeps it (the safety window
    /// counts). A Phase II participant keeps the allocation: a withdrawal never frees a schedule entry.
    /// </summary>
    public bool Withdraw(string reason, DateTimeOffset at, bool replaceWithdrawnBeforeInfusion)
    {
        if (WithdrawnAt is not null)
            throw new TrialRuleException(RefusalReason.ParticipantWithdrawn, $"Participant {ParticipantId} was already recorded as withdrawn on {WithdrawnAt:yyyy-MM-dd}.");
        WithdrawnAt = at;
        WithdrawalReason = Reasons.Require(reason);
        Status = ParticipantStatus.Withdrawn;
        var freed = Phase == TrialPhase.DoseEscalation && InfusedAt is null && replaceWithdrawnBeforeInfusion;
        if (freed) Place = null;
        return freed;
    }

    /// <summary>
    /// Marks a Phase II participant randomized in error (DOMAIN.md, "Errors and corrections"): the participant stays
    /// randomized, keeps the schedule entry and stays in every listing; the record gains the error, the correct values
    /// and the reason. Nothing of the allocation changes, and the schedule is not shifted. Refused for a Phase I
    /// participant (placed in an open-label cohort, never randomized: withdraw them instead), when marked already,
    /// and for correct values that do not fit the error: an ineligible participant carries none; a wrong stratum names
    /// the true sex, the true site (one of <paramref name="trialSites"/>), or both, each different from the one recorded.
    /// </summary>
    public void MarkRandomizedInError(RandomizedInErrorType? type, Sex? correctSex, string? correctSiteCode, string reason,
        IReadOnlyCollection<string> trialSites, DateTimeOffset at, string by)
    {
        if (Phase != TrialPhase.Randomized)
            throw new TrialRuleException(RefusalReason.ParticipantNotRandomized,
                $"Participant {ParticipantId} was placed in an open-label Phase I cohort, not randomized, so cannot be marked randomized in error. Record a withdrawal instead if they cannot go on.");
        if (RandomizedInErrorAt is not null)
            throw new TrialRuleException(RefusalReason.RandomizedInErrorAlreadyMarked,
                $"Participant {ParticipantId} was marked randomized in error on {RandomizedInErrorAt:yyyy-MM-dd}; a signed mark is not replaced.");
        var violations = new List<FieldViolation>();
        switch (type)
        {
            case null:
            case { } t when !Enum.IsDefined(t):
                violations.Add(new("type", "type is required: ineligible, or wrong stratum (wrong sex or site recorded)."));
                break;
            case Domain.RandomizedInErrorType.Ineligible:
                if (correctSex is not null) violations.Add(new("correct_sex", "An ineligible participant carries no correct sex; mark a wrong stratum for a wrong sex."));
                if (!string.IsNullOrEmpty(correctSiteCode)) violations.Add(new("correct_site_code", "An ineligible participant carries no correct site; mark a wrong stratum for a wrong site."));
                break;
            case Domain.RandomizedInErrorType.WrongStratum:
                if (correctSex is null && string.IsNullOrEmpty(correctSiteCode))
                    violations.Add(new("correct_sex", "A wrong stratum names the true sex, the true site, or both."));
                if (correctSex is { } sex && (!Enum.IsDefined(sex) || sex == Sex))
                    violations.Add(new("correct_sex", $"correct_sex must be the participant's true sex, not the one recorded ({Sex.ToString().ToLowerInvariant()})."));
                if (!string.IsNullOrEmpty(correctSiteCode) && (correctSiteCode == SiteCode || !trialSites.Contains(correctSiteCode, StringComparer.Ordinal)))
                    violations.Add(new("correct_site_code", $"correct_site_code must be another site of this trial than the one recorded ({SiteCode})."));
                break;
        }
        if (violations.Count > 0)
            throw new TrialRuleException(RefusalReason.RequestInvalid, string.Join(" ", violations.Select(v => v.Description)), violations);
        RandomizedInErrorReason = Reasons.Require(reason);
        RandomizedInErrorType = type;
        CorrectSex = correctSex;
        CorrectSiteCode = string.IsNullOrEmpty(correctSiteCode) ? null : correctSiteCode;
        RandomizedInErrorAt = at;
        RandomizedInErrorBy = by;
    }

    /// <summary>Records the first emergency unblinding of this participant; later ones are audited but change nothing here.</summary>
    public void RecordEmergencyUnblinding(string by, DateTimeOffset at)
    {
        if (Phase != TrialPhase.Randomized) throw new InvalidOperationException("only a randomized participant is blinded");
        if (EmergencyUnblindedAt is not null) return;
        EmergencyUnblindedAt = at;
        EmergencyUnblindedBy = by;
    }
}

/// <summary>An infusion as recorded, with the end of its safety window; <c>Recorded</c> is false when it was on record already.</summary>
public sealed record InfusionRecord(DateTimeOffset InfusedAt, DateTimeOffset SafetyWindowClosesAt, bool Recorded);

/// <summary>A person admitted to the trial: who they are at which site, and the eligibility snapshot kept of them.</summary>
public sealed record Admitted(string RequestId, string SiteCode, string ScreeningId, EligibilitySnapshot Eligibility);
