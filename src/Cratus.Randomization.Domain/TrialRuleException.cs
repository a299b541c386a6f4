namespace Cratus.Randomization.Domain;

/// <summary>Which kind of refusal a request meets; each maps to one gRPC status code.</summary>
public enum TrialFault
{
    /// <summary>The request itself is malformed or incomplete.</summary>
    InvalidArgument,
    /// <summary>The request is well formed, but the trial's state or rules do not allow it (an ineligible participant).</summary>
    FailedPrecondition,
    /// <summary>The thing asked for does not exist, or the caller may not know that it does.</summary>
    NotFound,
    /// <summary>The thing to be created exists already (a participant randomized before).</summary>
    AlreadyExists,
    /// <summary>The caller's role or sites do not allow the request.</summary>
    PermissionDenied,
    /// <summary>The caller's credentials are wrong, expired or locked.</summary>
    Unauthenticated,
}

/// <summary>
/// Why a request was refused, as a stable value a program can act on. Each has exactly one <see cref="TrialFault"/>
/// (see <see cref="Refusals.FaultOf"/>). The wire carries the same names as the ErrorReason enum of the protos
/// (errors.proto); a test keeps the two lists equal.
/// </summary>
public enum RefusalReason
{
    // INVALID_ARGUMENT
    /// <summary>One or more fields are missing or malformed; each is named.</summary>
    RequestInvalid,
    /// <summary>The site code is not a site of this trial.</summary>
    SiteUnknown,
    /// <summary>A schedule to generate or import breaks the trial's rules; every problem is named.</summary>
    ScheduleInvalid,
    /// <summary>The authenticator (TOTP) code does not match.</summary>
    AuthenticatorCodeInvalid,
    /// <summary>The action must be signed: a signing proof from Reauthenticate and a meaning are required.</summary>
    SignatureRequired,
    /// <summary>A unit id in the form of an ISBT 128 DIN has the wrong check character (ISO 7064 mod 37-2).</summary>
    DonationNumberInvalid,

    // FAILED_PRECONDITION
    /// <summary>The participant fails one or more eligibility criteria; each is named.</summary>
    ParticipantIneligible,
    /// <summary>The site is closed to enrolment.</summary>
    SiteClosed,
    /// <summary>The trial has reached its target of randomized participants.</summary>
    TrialTargetReached,
    /// <summary>The stratum's randomization list is used up.</summary>
    StratumListExhausted,
    /// <summary>No randomization schedule is in place yet.</summary>
    ScheduleNotInPlace,
    /// <summary>A schedule is in place already; it is never replaced.</summary>
    ScheduleAlreadyInPlace,
    /// <summary>The schedule is in place, so its strata (and the sites) are fixed.</summary>
    StrataFixed,
    /// <summary>A schedule amendment cannot add a site to this trial (its schedule is not stratified by site).</summary>
    ScheduleAmendmentNotApplicable,
    /// <summary>The final unblinding was approved: randomization is closed for good.</summary>
    RandomizationClosed,
    /// <summary>The randomized phase is not open yet (Phase I not complete or the DSMB has not decided to proceed).</summary>
    RandomizedPhaseNotOpen,
    /// <summary>This trial has no dose-escalation phase.</summary>
    NoDoseEscalationPhase,
    /// <summary>The current cohort takes no one now (full, or the sentinel interval has not passed).</summary>
    CohortNotOpen,
    /// <summary>Phase I is complete and the randomized phase is open: randomize instead of enrolling in a cohort.</summary>
    DoseEscalationComplete,
    /// <summary>Enrolment is on hold after a treatment-emergent serious adverse event or by the DSMB's decision.</summary>
    EnrolmentOnSafetyHold,
    /// <summary>The DSMB stopped the trial.</summary>
    TrialStopped,
    /// <summary>The DSMB decision cannot be recorded in the trial's present state.</summary>
    DsmbDecisionNotAllowed,
    /// <summary>The participant has withdrawn.</summary>
    ParticipantWithdrawn,
    /// <summary>The participant's infusion was recorded already.</summary>
    InfusionAlreadyRecorded,
    /// <summary>The unblinding request awaits approval by a second statistician.</summary>
    UnblindingNotApproved,
    /// <summary>The unblinding request was approved already.</summary>
    UnblindingAlreadyApproved,
    /// <summary>The unblinding approval has expired; a new request is needed.</summary>
    UnblindingApprovalExpired,
    /// <summary>An administrator exists already; the bootstrap secret is spent.</summary>
    AdministratorExists,
    /// <summary>Users sign in at the external identity provider, not here.</summary>
    ExternalIdentityProvider,
    /// <summary>An administrator cannot close their own account.</summary>
    OwnAccount,
    /// <summary>The signing proof has expired (5 minutes after re-authenticating); re-authenticate and sign again.</summary>
    SigningProofExpired,
    /// <summary>The signing proof was used already; each signature needs a new one.</summary>
    SigningProofUsed,
    /// <summary>A production trial runs on the real time: its trial clock never moves (rehearsal only, UAT or training).</summary>
    ProductionClockFixed,
    /// <summary>This rehearsal server's clock control is off (Rehearsal:ClockControl): the trial clock cannot be moved.</summary>
    ClockControlOff,
    /// <summary>The unblinding request reveals counts only (DSMB aggregate): no participant-level unblinded export.</summary>
    UnblindingScopeNotExportable,
    /// <summary>The participant was not randomized (Phase I is open label, placed in a cohort): nothing to mark randomized in error.</summary>
    ParticipantNotRandomized,
    /// <summary>The participant is marked randomized in error already; the mark, once signed, is not replaced.</summary>
    RandomizedInErrorAlreadyMarked,
    /// <summary>The unit's state does not allow this change (the allowed ones are named).</summary>
    UnitTransitionNotAllowed,
    /// <summary>The lot stands released already.</summary>
    LotAlreadyReleased,
    /// <summary>The lot is past its expiry.</summary>
    LotExpired,
    /// <summary>The unit cannot go into a dose now: not released, quarantined, expired or used.</summary>
    UnitNotUsable,
    /// <summary>The units named hold fewer cells than the dose needs (or the final cells are fewer).</summary>
    ProductCellsInsufficient,
    /// <summary>The prepared dose is not in a state that allows this (for example not dispatched, or infused already).</summary>
    DoseStateNotAllowed,
    /// <summary>The bag scanned at the bedside was not prepared for this participant.</summary>
    DoseWrongParticipant,
    /// <summary>The bag's thaw-to-infusion window has passed and the trial refuses it.</summary>
    InfusionWindowExpired,
    /// <summary>The dose is not released by the pharmacy: no second pharmacist's check yet.</summary>
    DoseNotReleased,
    /// <summary>No infusion without a successful bedside verification of the participant's bag.</summary>
    BedsideVerificationRequired,

    // NOT_FOUND
    /// <summary>No such participant is visible to the caller (another site's looks the same as none).</summary>
    ParticipantNotFound,
    /// <summary>No such user.</summary>
    UserNotFound,
    /// <summary>No such site.</summary>
    SiteNotFound,
    /// <summary>No such unblinding request is visible to the caller.</summary>
    UnblindingRequestNotFound,
    /// <summary>No such product lot.</summary>
    LotNotFound,
    /// <summary>No such product unit.</summary>
    UnitNotFound,
    /// <summary>No such prepared product is visible to the caller.</summary>
    ProductNotFound,

    // ALREADY_EXISTS
    /// <summary>The person is in the trial already (enrolled or randomized); a participant takes part once.</summary>
    ParticipantAlreadyInTrial,
    /// <summary>A user of that name exists already.</summary>
    UserExists,
    /// <summary>A site with that code exists already.</summary>
    SiteExists,
    /// <summary>The request_id was used before for a different request.</summary>
    RequestIdReused,
    /// <summary>A lot with that lot number is registered already.</summary>
    LotExists,
    /// <summary>A unit with that unit id (DIN or sponsor id) is registered already.</summary>
    UnitExists,
    /// <summary>The participant has a prepared dose on its way already; return or destroy it before preparing another.</summary>
    DoseAlreadyPrepared,

    // PERMISSION_DENIED
    /// <summary>The caller does not serve the site.</summary>
    SiteNotServed,
    /// <summary>The caller's role may not call this method.</summary>
    RoleNotPermitted,
    /// <summary>The requester of a controlled unblinding cannot approve it: a second statistician must.</summary>
    SecondStatisticianRequired,
    /// <summary>The signing proof is unknown, or was made for another person, action or record.</summary>
    SigningProofInvalid,
    /// <summary>The pharmacist who prepared a dose cannot check it: a second pharmacist must.</summary>
    SecondPharmacistRequired,

    // UNAUTHENTICATED
    /// <summary>User name, password, authenticator code or bootstrap secret is wrong.</summary>
    CredentialsInvalid,
    /// <summary>The account is locked after repeated failed sign-ins.</summary>
    AccountLocked,
    /// <summary>The call needs a signed-in caller and no access token was sent.</summary>
    TokenMissing,
    /// <summary>The token's account or client changed after it was issued (closed, other role or sites, revoked), or the
    /// token itself was revoked.</summary>
    AccountChanged,
    /// <summary>The account still has its one-time password, which must be changed before any token is issued.</summary>
    PasswordChangeRequired,
    /// <summary>No site system has this client id.</summary>
    SiteSystemNotFound,
    /// <summary>A site system or a person already has this client id.</summary>
    SiteSystemExists,
    /// <summary>The site system's credentials were revoked.</summary>
    SiteSystemRevoked,
}

/// <summary>One malformed or missing field, named by its path in the request (for example "eligibility.mmse_score").</summary>
public sealed record FieldViolation(string Field, string Description);

/// <summary>One unmet precondition: its kind (for example "ELIGIBILITY"), what it concerns, and what is wrong.</summary>
public sealed record PreconditionViolation(string Type, string Subject, string Description);

/// <summary>A refusal under the trial's rules as a value: the domain returns these, the caller decides to throw.</summary>
public sealed record Refusal(
    RefusalReason Reason, string Message, IReadOnlyList<FieldViolation>? Fields = null, IReadOnlyList<PreconditionViolation>? Preconditions = null)
{
    public TrialRuleException ToException() => new(Reason, Message, Fields, Preconditions);
}

/// <summary>
/// A refusal under the trial's rules. Its message is shown to the caller as it is, so it must never carry an arm,
/// a dose or a cell count when the caller may be blinded; nor may its violations.
/// </summary>
public sealed class TrialRuleException(
    RefusalReason reason, string message, IReadOnlyList<FieldViolation>? fields = null, IReadOnlyList<PreconditionViolation>? preconditions = null)
    : Exception(message)
{
    public RefusalReason Reason { get; } = reason;
    public TrialFault Fault => Refusals.FaultOf(Reason);
    public IReadOnlyList<FieldViolation> Fields { get; } = fields ?? [];
    public IReadOnlyList<PreconditionViolation> Preconditions { get; } = preconditions ?? [];

    /// <summary>A malformed request: the message names the field, and so does the violation.</summary>
    public static TrialRuleException Invalid(string field, string message) => new(RefusalReason.RequestInvalid, message, [new FieldViolation(field, message)]);
}

public static class Refusals
{
    public static TrialFault FaultOf(RefusalReason reason) => reason switch
    {
        RefusalReason.RequestInvalid or RefusalReason.SiteUnknown or RefusalReason.ScheduleInvalid or RefusalReason.AuthenticatorCodeInvalid
            or RefusalReason.SignatureRequired
            or RefusalReason.DonationNumberInvalid
            => TrialFault.InvalidArgument,
        RefusalReason.ParticipantNotFound or RefusalReason.UserNotFound or RefusalReason.SiteNotFound or RefusalReason.UnblindingRequestNotFound
            or RefusalReason.SiteSystemNotFound
            or RefusalReason.LotNotFound or RefusalReason.UnitNotFound or RefusalReason.ProductNotFound
            => TrialFault.NotFound,
        RefusalReason.ParticipantAlreadyInTrial or RefusalReason.UserExists or RefusalReason.SiteExists or RefusalReason.RequestIdReused or RefusalReason.SiteSystemExists
            or RefusalReason.LotExists or RefusalReason.UnitExists
            or RefusalReason.DoseAlreadyPrepared
            => TrialFault.AlreadyExists,
        RefusalReason.SiteNotServed or RefusalReason.RoleNotPermitted or RefusalReason.SecondStatisticianRequired
            or RefusalReason.SigningProofInvalid
            or RefusalReason.SecondPharmacistRequired
            => TrialFault.PermissionDenied,
        RefusalReason.CredentialsInvalid or RefusalReason.AccountLocked or RefusalReason.TokenMissing or RefusalReason.AccountChanged
            => TrialFault.Unauthenticated,
        _ => TrialFault.FailedPrecondition,
    };
}

/// <summary>The rule for the reasons the audit trail records: every change that needs one says why, briefly.</summary>
public static class Reasons
{
    public const int MaxLength = 1000;

    /// <summary>
    /// Throws INVALID_ARGUMENT (naming the field "reason") unless <paramref name="reason"/> has 1 to 1000 characters
    /// besides spaces, none of them a control character other than line breaks and tabs (PostgreSQL cannot store a
    /// NUL in text).
    /// </summary>
    public static string Require(string? reason, string field = "reason") =>
        !string.IsNullOrWhiteSpace(reason) && reason.Length <= MaxLength && !reason.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'))
            ? reason.Trim()
            : throw TrialRuleException.Invalid(field, $"A reason (1 to {MaxLength} characters, no control characters) is required in {field}, for the record.");
}
