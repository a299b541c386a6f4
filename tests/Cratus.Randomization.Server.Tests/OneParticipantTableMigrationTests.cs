using System.Data.Common;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Persistence.PostgreSql;
using Cratus.Randomization.Server.Persistence.Sqlite;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// A database at the schema before one participant table (Phase I in CohortEnrolments, Phase II in Participants),
/// holding participants of both phases as the service stored them (sealed with its key), is migrated by the server's
/// start-up and reads the same through the API: the same ids, randomization numbers, arms, doses and cohort state,
/// every seal intact, and "a person takes part once" now held by one index across both phases.
/// </summary>
public abstract class OneParticipantTableMigrationTests : OnEachDatabase
{
    private const string PreviousMigration = "WriteRequests";
    private static readonly DateTimeOffset EnrolledAt = new(2026, 11, 10, 14, 0, 0, TimeSpan.Zero);
    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [ProviderFact]
    public async Task PreviousSchemaWithBothPhases_Migrated_ReadsTheSameThroughTheApi()
    {
        var folder = Directory.CreateTempSubdirectory("cratus-migration-").FullName;
        var location = Database == TestDatabase.Sqlite ? Path.Combine(folder, "cratus.db") : await TestDatabases.CreatePostgreSqlDatabaseAsync();
        await CreateAtPreviousSchemaAsync(location);
        var arms = await StoreBothPhasesAsync(location);

        await using var server = new TrialServer(Database, false, new Dictionary<string, string>
        {
            ["Database:Reuse"] = location,
            ["Encryption:Keys:k1"] = _key,
        });

        // Phase II: the blinded assignments and, for the pharmacy, the arms, as stored.
        var site = server.Site();
        var first = (await site.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = "P-RANDOM0001" })).Assignment;
        Assert.Equal(("R-0001", "K-PRODUCT001", false), (first.RandomizationNumber, first.ProductCode, first.EmergencyUnblinded));
        var second = (await site.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = "P-RANDOM0002" })).Assignment;
        Assert.True(second.EmergencyUnblinded);
        var pharmacy = server.Pharmacy();
        foreach (var (participantId, arm) in arms)
            Assert.Equal(arm, (await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = participantId })).ArmCode);

        // Phase I: the cohort doses, and the cohort's state (one infused, one withdrawn before infusion, place given back).
        var dose = await pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = "P-COHORT0001" });
        Assert.Equal((1, 20_000_000L, ""), (dose.Cohort, dose.CellCount, dose.ArmCode));
        var status = (await new DoseEscalationService.DoseEscalationServiceClient(server.Channel(TrialRole.Monitor))
            .GetEscalationStatusAsync(new GetEscalationStatusRequest())).Status;
        var cohort = status.Cohorts[0];
        Assert.Equal((1, 1, 1), (cohort.Enrolled, cohort.Infused, cohort.Withdrawn));

        // Every seal still verifies, and the counts are those of the old tables.
        var verification = await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).VerifyAllocationsAsync(new VerifyAllocationsRequest());
        Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Problem)));
        Assert.Equal((2L, 2L, 3L), (verification.ParticipantsChecked, verification.CohortEnrolmentsChecked, verification.ScheduleEntriesChecked));
        Assert.Equal(2, (await server.Trial().GetTrialAsync(new GetTrialRequest())).RandomizedParticipants);

        // One index now keeps a person to one phase: the Phase I participant cannot be randomized as well.
        var again = await Assert.ThrowsAsync<RpcException>(() => site.RandomizeAsync(Requests.Randomize("PH1-001")).ResponseAsync);
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Contains("P-COHORT0001", again.Status.Detail, StringComparison.Ordinal);

        if (Database == TestDatabase.PostgreSql) await TestDatabases.DropPostgreSqlDatabaseAsync(location);
    }

    private async Task CreateAtPreviousSchemaAsync(string location)
    {
        await using TrialDbContext db = Database == TestDatabase.Sqlite
            ? new SqliteTrialDbContext(new DbContextOptionsBuilder<SqliteTrialDbContext>().UseSqlite($"Data Source={location}").Options)
            : new PostgreSqlTrialDbContext(new DbContextOptionsBuilder<PostgreSqlTrialDbContext>().UseNpgsql(location).Options);
        await db.GetService<IMigrator>().MigrateAsync(PreviousMigration);
        Assert.EndsWith("_" + PreviousMigration, (await db.Database.GetAppliedMigrationsAsync()).Last(), StringComparison.Ordinal);
    }

    /// <summary>Rows as the service stored them before: sealed with the key the server will run with.</summary>
    private async Task<List<(string ParticipantId, string Arm)>> StoreBothPhasesAsync(string location)
    {
        var encryption = Options.Create(new EncryptionOptions { ActiveKeyId = "k1", Keys = { ["k1"] = _key } });
        var secrets = new SecretBox(encryption);
        var seals = new AllocationSeals(new IntegrityKeys(encryption), NullLogger<AllocationSeals>.Instance);
        await using var connection = Database == TestDatabase.Sqlite
            ? (DbConnection)new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False")
            : new Npgsql.NpgsqlConnection(location);
        await connection.OpenAsync();

        await ExecuteAsync(connection, """INSERT INTO "Sites" ("Code", "Name", "Active") VALUES (@p0, @p1, @p2)""", "UM", "University of Miami", true);
        await ExecuteAsync(connection, """
            INSERT INTO "Schedules" ("TrialId", "Source", "SeedSealed", "SaltHex", "BlockSizesSealed", "CommitmentSha256", "CommittedAt", "CommittedBy", "Reason")
            VALUES (@p0, 'Imported', NULL, @p1, @p2, @p3, @p4, 'statistician-1', 'before the migration')
            """, "CRATUS", new string('0', 64), secrets.Seal("3", "schedule-block-sizes"), new string('a', 64), EnrolledAt);
        var stored = new List<(string ParticipantId, string Arm)>();
        string[] entryArms = ["B", "C", "A"];
        for (var sequence = 1; sequence <= entryArms.Length; sequence++)
        {
            var armSealed = secrets.Seal(entryArms[sequence - 1], SecretBox.ArmContext("UM/F", sequence));
            var number = $"R-000{sequence}";
            await ExecuteAsync(connection, """
                INSERT INTO "ScheduleEntries" ("ScheduleId", "Stratum", "Sequence", "RandomizationNumber", "ArmSealed", "EntrySeal")
                VALUES (1, 'UM/F', @p0, @p1, @p2, @p3)
                """, sequence, number, armSealed, seals.Seal(new ScheduleEntryFacts("UM/F", sequence, number, armSealed)));
            if (sequence > 2) continue;
            var participantId = $"P-RANDOM000{sequence}";
            var productCode = $"K-PRODUCT00{sequence}";
            var seal = seals.Seal(new ParticipantAllocationFacts(participantId, "UM", $"SCR-{sequence}", "UM/F", sequence, productCode,
                sequence, "UM/F", sequence, number, armSealed));
            await ExecuteAsync(connection, """
                INSERT INTO "Participants" ("ParticipantId", "SiteCode", "ScreeningId", "RequestId", "Stratum", "StratumSequence", "ScheduleEntryId",
                    "ProductCode", "RandomizedAt", "RandomizedBy", "RandomizedByRole", "AllocationSeal", "ConsentDate", "AgeAtConsent", "Sex",
                    "ClinicalFrailtyScale", "MmseScore", "EmergencyUnblindedAt", "EmergencyUnblindedBy")
                VALUES (@p0, 'UM', @p1, @p2, 'UM/F', @p3, @p3, @p4, @p5, 'coordinator', 'site_coordinator', @p6, @p7, 71, 'Female', 5, 28, @p8, @p9)
                """, participantId, $"SCR-{sequence}", Guid.NewGuid().ToString(), sequence, productCode, EnrolledAt.AddDays(sequence), seal,
                new DateOnly(2026, 11, 9), sequence == 2 ? EnrolledAt.AddDays(3) : null, sequence == 2 ? "investigator" : null);
            stored.Add((participantId, entryArms[sequence - 1]));
        }
        await ExecuteAsync(connection, """INSERT INTO "TrialTotals" ("TrialId", "Randomized") VALUES ('CRATUS', 2)""");

        foreach (var (number, place, infused, withdrawn) in new[] { (1, (int?)1, (DateTimeOffset?)EnrolledAt.AddDays(1), (DateTimeOffset?)null), (2, null, null, EnrolledAt.AddDays(2)) })
        {
            var participantId = $"P-COHORT000{number}";
            var seal = seals.Seal(new CohortEnrolmentFacts(participantId, "UM", $"PH1-00{number}", 1, $"K-COHORT00{number}"));
            await ExecuteAsync(connection, """
                INSERT INTO "CohortEnrolments" ("ParticipantId", "SiteCode", "ScreeningId", "RequestId", "Cohort", "Place", "ProductCode", "EnrolledAt",
                    "EnrolledBy", "AllocationSeal", "InfusedAt", "InfusionRecordedBy", "WithdrawnAt", "WithdrawalReason",
                    "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore")
                VALUES (@p0, 'UM', @p1, @p2, 1, @p3, @p4, @p5, 'coordinator', @p6, @p7, @p8, @p9, @p10, @p11, 68, 'Male', 4, 27)
                """, participantId, $"PH1-00{number}", Guid.NewGuid().ToString(), place, $"K-COHORT00{number}", EnrolledAt, seal,
                infused, infused is null ? null : "pharmacist", withdrawn, withdrawn is null ? null : "moved away", new DateOnly(2026, 11, 9));
        }
        return stored;
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, params object?[] values)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = $"@p{i}";
            parameter.Value = values[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        await command.ExecuteNonQueryAsync();
    }
}

public sealed class OneParticipantTableMigrationTestsOnSqlite : OneParticipantTableMigrationTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class OneParticipantTableMigrationTestsOnPostgreSql : OneParticipantTableMigrationTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}
