using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;
using IdentityOptions = Cratus.Randomization.Server.Security.IdentityOptions;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// What every start makes sure of, idempotently (several nodes may start at once): the trial definition's sites
/// exist; while no administrator exists, a one-time bootstrap secret is in place; in Development, demo users.
/// </summary>
public sealed partial class FirstStart(
    TrialDbContext db, TrialDefinition trial, UserManager<TrialUser> users, IOptions<IdentityOptions> options,
    IOptions<Security.TokenOptions> tokenOptions, IHostEnvironment environment, SecretBox secrets, AuditTrail audit, ILogger<FirstStart> logger, AllocationSeals seals,
    IOpenIddictApplicationManager applications)
{
    public async Task RunAsync(CancellationToken ct)
    {
        await SeedSitesAsync(ct);
        await ResealUnderActiveKeyAsync(ct);
        if (tokenOptions.Value.Mode != IdentityMode.Embedded) return;
        await EnsureClientsAsync(ct);
        if (environment.IsDevelopment() && options.Value.SeedDemoUsers) await SeedDemoUsersAsync();
        await EnsureBootstrapSecretAsync(ct);
    }

    private async Task SeedSitesAsync(CancellationToken ct)
    {
        var existing = await db.Sites.Select(s => s.Code).ToListAsync(ct);
        var missing = trial.Sites.Where(s => !existing.Contains(s.Code)).ToList();
        if (missing.Count == 0) return;
        db.Sites.AddRange(missing.Select(s => new SiteRecord { Code = s.Code, Name = s.Name }));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another node seeded them first.
        }
        db.ChangeTracker.Clear();
    }

    /// <summary>
    /// Key rotation: whatever is still sealed with a retired key is opened and sealed again with the active key, and
    /// the MACs that bind allocations, schedule entries and cohort enrolments are computed again under it, in one
    /// audited transaction. A MAC is checked under its old key before it is renewed: a row changed in the database
    /// keeps its old, failing seal (and is logged), so rotation never launders an edit. Audit events are never
    /// re-MACed: history is not rewritten, so the keys they were written under stay in the ring.
    /// </summary>
    private async Task ResealUnderActiveKeyAsync(CancellationToken ct)
    {
        var prefix = secrets.ActiveKeyId + ":";
        if (!await db.ScheduleEntries.AnyAsync(e => !e.ArmSealed.StartsWith(prefix) || !e.EntrySeal.StartsWith(prefix), ct) &&
            !await db.Participants.AnyAsync(p => !p.AllocationSeal.StartsWith(prefix), ct) &&
            !await db.Schedules.AnyAsync(s => !s.BlockSizesSealed.StartsWith(prefix), ct)) return;
        var moved = await db.InTransactionAsync(async t =>
        {
            var count = 0;
            var entries = await db.ScheduleEntries.Where(e => !e.ArmSealed.StartsWith(prefix) || !e.EntrySeal.StartsWith(prefix)).ToListAsync(t);
            var entryIds = entries.Select(e => e.Id).ToHashSet();
            var participants = await (
                    from p in db.Participants
                    join e in db.ScheduleEntries on p.ScheduleEntryId equals e.Id
                    where !p.AllocationSeal.StartsWith(prefix) || !e.ArmSealed.StartsWith(prefix) || !e.EntrySeal.StartsWith(prefix)
                    select new { Participant = p, Entry = e })
                .ToListAsync(t);
            // Judged before anything changes, under the keys they were sealed with.
            var goodParticipants = participants.Where(x => seals.IsValid(Facts(x.Participant, x.Entry), x.Participant.AllocationSeal)).ToList();
            var goodEntries = entries.Where(e => seals.IsValid(Facts(e), e.EntrySeal)).ToHashSet();
            foreach (var x in participants.Except(goodParticipants)) seals.ReportParticipant(x.Participant.ParticipantId);
            foreach (var e in entries.Except(goodEntries)) seals.ReportEntry(e.Stratum, e.Sequence);
            foreach (var entry in goodEntries)
            {
                if (!entry.ArmSealed.StartsWith(prefix, StringComparison.Ordinal))
                {
                    var context = SecretBox.ArmContext(entry.Stratum, entry.Sequence);
                    entry.ArmSealed = secrets.Seal(secrets.Open(entry.ArmSealed, context), context);
                }
                entry.EntrySeal = seals.Seal(Facts(entry));
                count++;
            }
            foreach (var x in goodParticipants.Where(x => !entryIds.Contains(x.Entry.Id) || goodEntries.Contains(x.Entry)))
            {
                x.Participant.Reseal(seals.Seal(Facts(x.Participant, x.Entry)));
                count++;
            }
            foreach (var enrolment in await db.Participants.Where(p => p.Phase == TrialPhase.DoseEscalation && !p.AllocationSeal.StartsWith(prefix)).ToListAsync(t))
            {
                var facts = enrolment.CohortFacts();
                if (!seals.IsValid(facts, enrolment.AllocationSeal))
                {
                    seals.ReportParticipant(enrolment.ParticipantId);
                    continue;
                }
                enrolment.Reseal(seals.Seal(facts));
                count++;
            }
            foreach (var schedule in await db.Schedules.Where(s => !s.BlockSizesSealed.StartsWith(prefix)).ToListAsync(t))
            {
                schedule.BlockSizesSealed = secrets.Seal(secrets.Open(schedule.BlockSizesSealed, "schedule-block-sizes"), "schedule-block-sizes");
                if (schedule.SeedSealed is { } seed) schedule.SeedSealed = secrets.Seal(secrets.Open(seed, "schedule-seed"), "schedule-seed");
                if (schedule.DesignSealed is { } design) schedule.DesignSealed = secrets.Seal(secrets.Open(design, "schedule-design"), "schedule-design");
                count++;
            }
            // Another node may have resealed first; then there is nothing to record.
            if (count > 0)
                await audit.AppendAsync(AuditActor.System, AuditActions.ScheduleResealed, trial.TrialId, t,
                    reason: "encryption key rotation", details: $"{count} sealed values moved to key {secrets.ActiveKeyId}");
            return count;
        }, ct);
        LogResealed(logger, moved, secrets.ActiveKeyId);
    }

    private static ScheduleEntryFacts Facts(ScheduleEntryRecord e) => new(e.Stratum, e.Sequence, e.RandomizationNumber, e.ArmSealed);

    private static ParticipantAllocationFacts Facts(Participant p, ScheduleEntryRecord e) => new(p.ParticipantId, p.SiteCode, p.ScreeningId,
        p.Stratum!, p.StratumSequence!.Value, p.ProductCode, e.Id, e.Stratum, e.Sequence, e.RandomizationNumber, e.ArmSealed);

    /// <summary>
    /// The service's own public clients, kept as configuration says at every start: the CLI (device flow; the password
    /// grant where enabled) and the web application (authorization code with PKCE at the configured redirect URIs).
    /// </summary>
    private async Task EnsureClientsAsync(CancellationToken ct)
    {
        var cli = new OpenIddictApplicationDescriptor
        {
            ClientId = OpenIdServer.CliClientId,
            ClientType = ClientTypes.Public,
            DisplayName = "cratus command line",
            Permissions =
            {
                Permissions.Endpoints.DeviceAuthorization, Permissions.Endpoints.Token, Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.DeviceCode, Permissions.GrantTypes.RefreshToken, Permissions.Prefixes.Scope + OpenIdServer.ApiScope,
            },
        };
        if (tokenOptions.Value.AllowPasswordGrant) cli.Permissions.Add(Permissions.GrantTypes.Password);
        var web = new OpenIddictApplicationDescriptor
        {
            ClientId = OpenIdServer.WebClientId,
            ClientType = ClientTypes.Public,
            DisplayName = "CRATUS web application",
            Permissions =
            {
                Permissions.Endpoints.Authorization, Permissions.Endpoints.Token, Permissions.Endpoints.Revocation, Permissions.Endpoints.EndSession,
                Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code,
                Permissions.Prefixes.Scope + OpenIdServer.ApiScope,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var uri in tokenOptions.Value.WebRedirectUris) web.RedirectUris.Add(new Uri(uri, UriKind.Absolute));
        foreach (var descriptor in new[] { cli, web })
        {
            if (await applications.FindByClientIdAsync(descriptor.ClientId!, ct) is { } existing) await applications.UpdateAsync(existing, descriptor, ct);
            else await applications.CreateAsync(descriptor, ct);
        }
    }

    private async Task EnsureBootstrapSecretAsync(CancellationToken ct)
    {
        if (await db.Users.AnyAsync(u => u.Role == "administrator", ct)) return;
        var configured = options.Value.BootstrapSecret;
        var secret = string.IsNullOrEmpty(configured) ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : configured;
        var record = await db.BootstrapSecrets.SingleOrDefaultAsync(ct);
        if (record is null) db.BootstrapSecrets.Add(new BootstrapSecretRecord { Id = 1, SecretHash = Accounts.HashOf(secret) });
        else if (record.UsedAt is null) record.SecretHash = Accounts.HashOf(secret);
        else return;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another node starting at the same moment put its secret in place first; that one is valid.
            db.ChangeTracker.Clear();
            return;
        }
        db.ChangeTracker.Clear();
        if (string.IsNullOrEmpty(configured))
        {
            // Straight to the console, never to the log files: the secret must not outlive this screen.
            Console.WriteLine($"No administrator exists yet. One-time bootstrap secret: {secret}");
            Console.WriteLine("Create the first administrator with: cratus bootstrap --secret <secret> --user <name>");
        }
        LogBootstrapPending(logger);
    }

    private async Task SeedDemoUsersAsync()
    {
        var site = trial.Sites[0].Code;
        (string Name, string FullName, TrialRole Role, string Sites)[] demo =
        [
            ("coordinator", "Carmen Coordinator", TrialRole.SiteCoordinator, site),
            ("investigator", "Ines Investigator", TrialRole.Investigator, site),
            ("pharmacist", "Paul Pharmacist", TrialRole.Pharmacist, ""),
            ("statistician", "Stella Statistician", TrialRole.Statistician, ""),
            ("statistician2", "Sam Second-Statistician", TrialRole.Statistician, ""),
            ("dsmb", "Dana DSMB-Member", TrialRole.DsmbMember, ""),
            ("monitor", "Mona Monitor", TrialRole.Monitor, ""),
            ("admin", "Ada Administrator", TrialRole.Administrator, ""),
            ("qa", "Quinn Quality-Assurance", TrialRole.QualityAssurance, ""),
        ];
        foreach (var (name, fullName, role, sites) in demo)
        {
            if (await users.FindByNameAsync(name) is not null) continue;
            try
            {
                await users.CreateAsync(new TrialUser { UserName = name, FullName = fullName, Role = TrialRoles.ClaimValue(role), Sites = sites }, options.Value.DemoPassword);
            }
            catch (DbUpdateException)
            {
                // Another node created it at the same moment.
                db.ChangeTracker.Clear();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Key rotation: {Count} sealed values moved to encryption key {KeyId}")]
    private static partial void LogResealed(ILogger logger, int count, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No administrator exists yet: a one-time bootstrap secret is waiting to be used (configured, or printed on the console)")]
    private static partial void LogBootstrapPending(ILogger logger);
}
