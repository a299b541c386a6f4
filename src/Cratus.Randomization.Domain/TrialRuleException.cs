namespace Cratus.Randomization.Domain;

/// <summary>Why a request cannot be carried out, in terms a site coordinator can act on.</summary>
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
/// A refusal under the trial's rules. Its message is shown to the caller as it is, so it must never carry an arm,
/// a dose or a cell count when the caller may be blinded.
/// </summary>
public sealed class TrialRuleException(TrialFault fault, string message) : Exception(message)
{
    public TrialFault Fault { get; } = fault;
}

/// <summary>The rule for the reasons the audit trail records: every change that needs one says why, briefly.</summary>
public static class Reasons
{
    public const int MaxLength = 1000;

    /// <summary>
    /// Throws INVALID_ARGUMENT unless <paramref name="reason"/> has 1 to 1000 characters besides spaces, none of them
    /// a control character other than line breaks and tabs (PostgreSQL cannot store a NUL in text).
    /// </summary>
    public static string Require(string? reason) =>
        !string.IsNullOrWhiteSpace(reason) && reason.Length <= MaxLength && !reason.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'))
            ? reason.Trim()
            : throw new TrialRuleException(TrialFault.InvalidArgument, $"A reason (1 to {MaxLength} characters, no control characters) is required, for the record.");
}
