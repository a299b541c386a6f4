using System.Data.Common;
using Cratus.Randomization.Domain;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server;

/// <summary>
/// Why the server could not start, as one line that names the setting and how to fix it, and a documented exit code
/// (README, "Exit codes of the server") that a supervisor or a deployment script can act on. No stack trace: the
/// operator needs the setting, not the call chain.
/// </summary>
public static class StartupFailure
{
    /// <summary>A setting is missing or invalid, or a development secret is used outside Development.</summary>
    public const int InvalidConfiguration = 2;
    /// <summary>The trial definition file is missing or invalid.</summary>
    public const int InvalidTrialDefinition = 3;
    /// <summary>The database cannot be reached, opened or migrated.</summary>
    public const int DatabaseUnavailable = 4;
    /// <summary>Anything else (for example the listening port is taken).</summary>
    public const int Other = 1;

    public static (int ExitCode, string Line) Describe(Exception failure)
    {
        // Every option that fails validation at start is reported at once, so one restart can fix them all.
        var invalid = Flatten(failure).OfType<OptionsValidationException>().SelectMany(o => o.Failures).Distinct().ToList();
        return invalid.Count > 0 ? (InvalidConfiguration, $"invalid configuration: {string.Join(" ", invalid)}") : DescribeOne(failure);
    }

    private static IEnumerable<Exception> Flatten(Exception failure) =>
        failure is AggregateException aggregate ? aggregate.InnerExceptions.SelectMany(Flatten) : [failure];

    private static (int ExitCode, string Line) DescribeOne(Exception failure) => Unwrap(failure) switch
    {
        InvalidTrialDefinitionException definition =>
            (InvalidTrialDefinition, $"the trial definition (Trial:DefinitionPath) is invalid: {string.Join("; ", definition.Problems)}"),
        DbException or TimeoutException or System.Net.Sockets.SocketException =>
            (DatabaseUnavailable, $"the database cannot be reached or opened ({Unwrap(failure).Message}). Check Database:Provider and Database:SqlitePath or Database:ConnectionString, and that the database server is running."),
        IOException io when io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase) =>
            (Other, $"the listening address is taken ({io.Message}). Set Kestrel:Endpoints:Grpc:Url (gRPC) or Kestrel:Endpoints:Web:Url (sign-in and web pages) to a free address."),
        var other => (Other, $"{other.GetType().Name}: {other.Message}"),
    };

    private static Exception Unwrap(Exception failure) => failure switch
    {
        AggregateException { InnerExceptions.Count: 1 } aggregate => Unwrap(aggregate.InnerExceptions[0]),
        InvalidOperationException { InnerException: { } inner } when inner is DbException or TimeoutException or System.Net.Sockets.SocketException => Unwrap(inner),
        System.Reflection.TargetInvocationException { InnerException: { } inner } => Unwrap(inner),
        _ => failure,
    };
}
