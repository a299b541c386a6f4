using Microsoft.EntityFrameworkCore.Migrations;
using Cratus.Randomization.Server.Persistence;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Sqlite.Migrations
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
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    AgeAtConsent = table.Column<int>(type: "INTEGER", nullable: false),
                    AllocationSeal = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    ClinicalFrailtyScale = table.Column<int>(type: "INTEGER", nullable: false),
                    Cohort = table.Column<int>(type: "INTEGER", nullable: false),
                    ConsentDate = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    EnrolledAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    EnrolledBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    InfusedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    InfusionRecordedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    MmseScore = table.Column<int>(type: "INTEGER", nullable: false),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Place = table.Column<int>(type: "INTEGER", nullable: true),
                    ProductCode = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ScreeningId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Sex = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    SiteCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    WithdrawalReason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    WithdrawnAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true)
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
