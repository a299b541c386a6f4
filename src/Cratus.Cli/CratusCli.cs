using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;

namespace Cratus.Cli;

/// <summary>
/// The command-line client: one verb per task a user of the trial performs. Human output is aligned text;
/// --json prints the reply as JSON for scripts. Every failure prints a message and exits non-zero.
/// </summary>
public static class CratusCli
{
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) => RunAsync(args, output, error, Console.In);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, TextReader input)
    {
        var server = new Option<string>("--server")
        {
            Description = "Server address (or CRATUS_SERVER)",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CRATUS_SERVER") ?? "http://127.0.0.1:5080",
        };
        var token = new Option<string?>("--token") { Description = "Access token (or CRATUS_TOKEN; default: the session saved by login)", Recursive = true };
        var issuer = new Option<string?>("--issuer")
        {
            Description = "The sign-in (OpenID Connect) server's address (or CRATUS_ISSUER; default: the server address with the next port)",
            Recursive = true,
        };
        var json = new Option<bool>("--json") { Description = "Print replies as JSON", Recursive = true };
        var requestId = new Option<string?>("--request-id")
        {
            Description = "For a write: the request id (a UUID) of an earlier attempt, to retry it safely (default: a new one)",
            Recursive = true,
        };

        var root = new RootCommand("CratusRandomization client: randomize participants, read assignments and dose orders, manage the schedule.")
        {
            server, token, issuer, json, requestId,
        };
        CliSession? current = null;
        CliSession Session(ParseResult p) => current = new(p.GetValue(server)!, p.GetValue(token), p.GetValue(json), output, p.GetValue(requestId), p.GetValue(issuer));

        root.Subcommands.Add(HealthCommand(Session));
        root.Subcommands.Add(TrialCommand(Session));
        root.Subcommands.Add(ScheduleCommands(Session, new Signing(output, input)));
        root.Subcommands.Add(RandomizeCommand.Create(Session));
        root.Subcommands.Add(AssignmentCommand(Session));
        root.Subcommands.Add(DoseOrderCommand(Session));
        foreach (var command in SessionCommands.Create(Session, output, input)) root.Subcommands.Add(command);
        foreach (var command in UnblindingCommands.Create(Session, new Signing(output, input))) root.Subcommands.Add(command);
        root.Subcommands.Add(AuditCommands.Create(Session));
        root.Subcommands.Add(ExportCommands.Create(Session));
        foreach (var command in EscalationCommands.Create(Session, new Signing(output, input))) root.Subcommands.Add(command);
        foreach (var command in ParticipantCommands.Create(Session, new Signing(output, input))) root.Subcommands.Add(command);
        foreach (var command in AdministrationCommands.Create(Session)) root.Subcommands.Add(command);
        root.Subcommands.Add(RehearsalCommands.Create(Session));
        foreach (var command in InventoryCommands.Create(Session, new Signing(output, input))) root.Subcommands.Add(command);
        foreach (var command in PharmacyCommands.Create(Session, new Signing(output, input))) root.Subcommands.Add(command);

        var parsed = root.Parse(args);
        parsed.InvocationConfiguration.Output = output;
        parsed.InvocationConfiguration.Error = error;
        parsed.InvocationConfiguration.EnableDefaultExceptionHandler = false;
        try
        {
            return await parsed.InvokeAsync(parsed.InvocationConfiguration);
        }
        catch (RpcException ex)
        {
            await WriteErrorAsync(error, ex);
            if (current is { SentWrite: true } session && ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
                await error.WriteLineAsync($"  The change may or may not have been made. Run the same command again with --request-id {session.RequestId}: " +
                    "you get its result if it was made, and it is made once if it was not.");
            return ex.StatusCode switch
            {
                StatusCode.InvalidArgument => 2,
                StatusCode.Unauthenticated or StatusCode.PermissionDenied => 3,
                StatusCode.NotFound => 4,
                StatusCode.FailedPrecondition or StatusCode.AlreadyExists => 5,
                StatusCode.Unavailable or StatusCode.DeadlineExceeded => 6,
                StatusCode.DataLoss => 7,
                _ => 1,
            };
        }
        catch (SignInRefusedException ex)
        {
            // As for UNAUTHENTICATED: the credentials were refused.
            await error.WriteLineAsync($"error: {ex.Message}");
            return 3;
        }
        catch (CliException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }
    }

    /// <summary>
    /// The message, the status code and the reason a program acts on (google.rpc.ErrorInfo), then one line per bad
    /// field (BadRequest) or unmet precondition (PreconditionFailure).
    /// </summary>
    private static async Task WriteErrorAsync(TextWriter error, RpcException ex)
    {
        var status = ex.GetRpcStatus();
        var reason = status?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason;
        await error.WriteLineAsync($"error: {ex.Status.Detail} ({ex.StatusCode}{(reason is null ? "" : ", " + reason)})");
        foreach (var field in status?.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations ?? [])
            await error.WriteLineAsync($"  {(field.Field.Length > 0 ? field.Field : "request")}: {field.Description}");
        if (status?.GetDetail<Google.Rpc.BadRequest>() is null)
            foreach (var violation in status?.GetDetail<Google.Rpc.PreconditionFailure>()?.Violations ?? [])
                await error.WriteLineAsync($"  {(violation.Subject.Length > 0 ? violation.Subject : violation.Type)}: {violation.Description}");
    }

    private static Command HealthCommand(Func<ParseResult, CliSession> session)
    {
        var command = new Command("health", "Ask the server whether it is serving (no sign-in needed). Exits 0 when serving.");
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new Health.HealthClient(s.AnonymousChannel())
                .CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct);
            s.Print(reply, [("Status", reply.Status.ToString())]);
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 6;
        });
        return command;
    }

    private static Command TrialCommand(Func<ParseResult, CliSession> session)
    {
        var command = new Command("trial", "Show the trial, its eligibility rules and enrolment by site (blinded).");
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var trial = await new TrialService.TrialServiceClient(s.Channel()).GetTrialAsync(new GetTrialRequest(), cancellationToken: ct);
            s.Print(trial, [
                ("Trial", $"{trial.TrialId} ({trial.RegistryId})"),
                ("Title", trial.Title),
                ("Randomized", $"{trial.RandomizedParticipants} of {trial.TargetParticipants}"),
                ("Schedule in place", trial.ScheduleInPlace ? "yes" : "no"),
                ("Age at consent", $"{trial.Eligibility.MinimumAge} to {trial.Eligibility.MaximumAge}"),
                ("Clinical Frailty Scale", $"{trial.Eligibility.MinimumFrailtyScore} to {trial.Eligibility.MaximumFrailtyScore}"),
                ("MMSE excluded at or below", trial.Eligibility.MmseExclusionAtOrBelow.ToString(CultureInfo.InvariantCulture)),
                .. trial.Eligibility.ExclusionCriteria.Select(c => ("Exclusion " + c.Code, c.Description)),
                .. trial.Sites.Select(site => ("Site " + site.SiteCode, $"{site.Name}: {site.RandomizedParticipants} randomized")),
            ]);
        });
        return command;
    }

    private static Command ScheduleCommands(Func<ParseResult, CliSession> session, Signing signing)
    {
        var schedule = new Command("schedule", "Put the concealed schedule in place (statisticians), or read its commitment.");
        var reason = new Option<string>("--reason") { Description = "Why, for the record", Required = true };

        var blockSizes = new Option<string?>("--block-sizes") { Description = "Comma-separated block sizes (default: the trial definition's)" };
        var generate = new Command("generate", "Generate the stratified permuted-block schedule from a fresh random seed (signed).") { reason, blockSizes, signing.Meaning };
        generate.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new GenerateScheduleRequest { Reason = p.GetValue(reason)! };
            request.BlockSizes.AddRange(ParseInts(p.GetValue(blockSizes)));
            var trial = await new TrialService.TrialServiceClient(s.Channel()).GetTrialAsync(new GetTrialRequest(), cancellationToken: ct);
            request.Signature = await signing.SignAsync(s, p, SignedAction.ScheduleGeneration, trial.TrialId, ct);
            var reply = await new ScheduleService.ScheduleServiceClient(s.Channel()).GenerateScheduleAsync(request, cancellationToken: ct);
            s.Print(reply, [
                ("Commitment (SHA-256)", reply.Sha256Hex),
                ("Seed", reply.SeedHex),
                ("Salt", reply.SaltHex),
                ("Block sizes", string.Join(", ", reply.BlockSizes)),
                .. reply.Strata.Select(st => ("Stratum " + st.Stratum, $"{st.Entries} entries")),
                ("Signed", $"{p.GetValue(signing.Meaning)}, by you, for trial {trial.TrialId}"),
                ("Note", "Keep the seed and salt with the trial master file; never give them to a site."),
            ]);
        });

        var file = new Argument<FileInfo>("file") { Description = "CSV with the header stratum,sequence,randomization_number,arm" };
        var import = new Command("import", "Import the trial statistician's list (validated whole; rejected whole).") { file, reason, signing.Meaning };
        import.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var path = p.GetValue(file)!;
            if (!path.Exists) throw new CliException($"file {path.FullName} does not exist");
            var content = await File.ReadAllBytesAsync(path.FullName, ct);
            var request = new ImportScheduleRequest { Csv = ByteString.CopyFrom(content), Reason = p.GetValue(reason)! };
            request.Signature = await signing.SignAsync(s, p, SignedAction.ScheduleImport, Signing.Sha256Hex(content), ct);
            var reply = await new ScheduleService.ScheduleServiceClient(s.Channel()).ImportScheduleAsync(request, cancellationToken: ct);
            s.Print(reply, [
                ("Commitment (SHA-256)", reply.Sha256Hex),
                ("Salt", reply.SaltHex),
                .. reply.Strata.Select(st => ("Stratum " + st.Stratum, $"{st.Entries} entries")),
                ("Signed", $"{p.GetValue(signing.Meaning)}, by you, for the file with SHA-256 {Signing.Sha256Hex(content)}"),
            ]);
        });

        var commitment = new Command("commitment", "Show the schedule's SHA-256 commitment (any signed-in user).");
        commitment.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new TrialService.TrialServiceClient(s.Channel()).GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest(), cancellationToken: ct);
            s.Print(reply, [
                ("Commitment (SHA-256)", reply.Sha256Hex),
                ("Canonical form", reply.CanonicalForm),
                ("Committed at (UTC)", reply.CommittedAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)),
                .. reply.Chain.Where(l => l.Part > 0).Select(l => ($"Amendment {l.Part.ToString(CultureInfo.InvariantCulture)}",
                    $"site {l.SiteCode}: {l.Sha256Hex}, chained to {l.PreviousSha256Hex}")),
            ]);
        });

        schedule.Subcommands.Add(generate);
        schedule.Subcommands.Add(import);
        schedule.Subcommands.Add(commitment);
        schedule.Subcommands.Add(ScheduleAmendCommand.Create(session, signing, reason));
        return schedule;
    }

    private static Command AssignmentCommand(Func<ParseResult, CliSession> session)
    {
        var participant = new Argument<string>("participant-id") { Description = "Participant id returned by randomize" };
        var command = new Command("assignment", "Show a participant's blinded assignment.") { participant };
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new RandomizationService.RandomizationServiceClient(s.Channel())
                .GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = p.GetValue(participant)! }, cancellationToken: ct);
            s.Print(reply, RandomizeCommand.Rows(reply.Assignment));
        });
        return command;
    }

    private static Command DoseOrderCommand(Func<ParseResult, CliSession> session)
    {
        var participant = new Argument<string>("participant-id") { Description = "Participant id returned by randomize" };
        var command = new Command("dose-order", "Show what the pharmacy must prepare for a participant (pharmacists only; unblinded).") { participant };
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new PharmacyService.PharmacyServiceClient(s.Channel())
                .GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = p.GetValue(participant)! }, cancellationToken: ct);
            s.Print(reply, [
                ("Participant", reply.ParticipantId),
                ("Site", reply.SiteCode),
                .. reply.Cohort > 0
                    ? new[] { ("Phase I cohort", reply.Cohort.ToString(CultureInfo.InvariantCulture)) }
                    : [("Randomization number", reply.RandomizationNumber), ("Arm", reply.ArmCode)],
                ("Product code", reply.ProductCode),
                ("Prepare", reply.Treatment),
                ("Cells", reply.Placebo ? "none (placebo)" : reply.CellCount.ToString("N0", CultureInfo.InvariantCulture)),
                ("Label with", "participant and randomization number only"),
            ]);
        });
        return command;
    }

    internal static IEnumerable<int> ParseInts(string? csv) =>
        string.IsNullOrWhiteSpace(csv) ? [] : csv.Split(',').Select(v => int.TryParse(v.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n : throw new CliException($"'{v}' is not a whole number"));
}

/// <summary>A mistake in the command line itself, reported without calling the server.</summary>
public class CliException(string message) : Exception(message);

/// <summary>The sign-in server refused the credentials or the grant (exit code 3, as for UNAUTHENTICATED).</summary>
public sealed class SignInRefusedException(string message) : CliException(message);
