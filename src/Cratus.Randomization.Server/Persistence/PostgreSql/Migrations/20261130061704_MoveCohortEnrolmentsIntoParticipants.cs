using Microsoft.EntityFrameworkCore.Migrations;
using Cratus.Randomization.Server.Persistence;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class MoveCohortEnrolmentsIntoParticipants : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // After OneParticipantTable has made the Phase II columns optional (on SQLite, by rebuilding the table):
            // the Phase I participants join the Phase II ones in this one table, then their old table goes.
            migrationBuilder.Sql(ParticipantsOfBothPhases.MoveCohortEnrolments);

            migrationBuilder.DropTable(
                name: "CohortEnrolments");

        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Going back recreates the old table empty: the Phase I participants stay in Participants, where the
            // earlier schema cannot hold them. Restore a backup instead when they matter.
            migrationBuilder.CreateTable(
                name: "CohortEnrolments",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    AgeAtConsent = table.Column<int>(type: "integer", nullable: false),
                    AllocationSeal = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: false),
                    ClinicalFrailtyScale = table.Column<int>(type: "integer", nullable: false),
                    Cohort = table.Column<int>(type: "integer", nullable: false),
                    ConsentDate = table.Column<DateOnly>(type: "date", nullable: false),
                    EnrolledAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    EnrolledBy = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    InfusedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    InfusionRecordedBy = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    MmseScore = table.Column<int>(type: "integer", nullable: false),
                    ParticipantId = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Place = table.Column<int>(type: "integer", nullable: true),
                    ProductCode = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    RequestId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ScreeningId = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Sex = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    SiteCode = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    WithdrawalReason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    WithdrawnAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_CohortEnrolments", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_Cohort_Place",
                table: "CohortEnrolments",
                columns: new[] { "Cohort", "Place" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_ParticipantId",
                table: "CohortEnrolments",
                column: "ParticipantId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_ProductCode",
                table: "CohortEnrolments",
                column: "ProductCode",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_RequestId",
                table: "CohortEnrolments",
                column: "RequestId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_SiteCode_ScreeningId",
                table: "CohortEnrolments",
                columns: new[] { "SiteCode", "ScreeningId" },
                unique: true);

        }
    }
}
