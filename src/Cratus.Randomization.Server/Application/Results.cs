using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Application;

/// <summary>What a blinded user may know of an allocation. Built without ever reading the arm.</summary>
public sealed record BlindedAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, string RandomizationNumber, string ProductCode, DateTimeOffset RandomizedAt,
    bool EmergencyUnblinded);

/// <summary>A randomized participant with the arm allocated, for unblinded readers.</summary>
public sealed record DoseOrder(BlindedAssignment Assignment, ArmDefinition Arm);

/// <summary>What the pharmacy prepares: a randomized participant's arm, or a Phase I participant's cohort dose.</summary>
public sealed record PharmacyOrder(BlindedAssignment Assignment, string ArmCode, int Cohort, string Treatment, long CellCount, bool Placebo);

/// <summary>A Phase I participant's open-label placement.</summary>
public sealed record CohortAssignment(
    string ParticipantId, string SiteCode, string ScreeningId, int Cohort, string Dose, long CellCount, string ProductCode, DateTimeOffset EnrolledAt);

public sealed record SafetyReport(bool TreatmentEmergent, bool EnrolmentOnHold, string Message);

/// <summary>The escalation state with the facts behind it, for the status reply.</summary>
/// <summary>Where the dose escalation stands; each DSMB decision with its electronic signature (null for a decision
/// recorded before signatures, or one whose record no longer matches its signature's digest).</summary>
public sealed record EscalationReport(EscalationState State, IReadOnlyList<(SafetyEvent Event, int Cohort, bool Visible)> SafetyEvents,
    IReadOnlyList<(DsmbDecision Decision, Signatures.SignatureView? Signature)> Decisions, bool DosesShown = true);

/// <summary>An unblinding request and where it stands now.</summary>
public sealed record UnblindingRequestView(
    string RequestId, UnblindingScope Scope, string? ParticipantId, string Reason, string RequestedBy, DateTimeOffset RequestedAt,
    string? ApprovedBy, DateTimeOffset? ApprovedAt, DateTimeOffset? ExpiresAt, UnblindingStatus Status, Signatures.SignatureView? ApprovalSignature = null)
{
    public static UnblindingRequestView Of(UnblindingRequest r, DateTimeOffset now, Signatures.SignatureView? approvalSignature = null) => new(
        r.RequestId, r.Scope, r.ParticipantId, r.Reason, r.RequestedBy, r.RequestedAt, r.ApprovedBy, r.ApprovedAt, r.ExpiresAt, r.StatusAt(now),
        approvalSignature);

    /// <summary>The content an approval signature binds to: the request and its approval as recorded.</summary>
    public static string SignedContent(UnblindingRequest r) => SignedActions.Content(r.RequestId, r.Scope, r.ParticipantId, r.Reason,
        r.RequestedBy, r.RequestedAt, r.ApprovedBy, r.ApprovedAt, r.ApprovalReason, r.ExpiresAt);
}

public sealed record ArmCount(ArmDefinition Arm, int Participants);

/// <summary>What an approved request reveals: one participant, the counts by arm (DSMB), or everything (final).</summary>
public sealed record UnblindedAllocations(UnblindingRequestView Request, IReadOnlyList<DoseOrder> Allocations, IReadOnlyList<ArmCount> ArmCounts);
