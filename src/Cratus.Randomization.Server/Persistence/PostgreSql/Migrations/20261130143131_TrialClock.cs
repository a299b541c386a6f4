using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class TrialClock : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "TrialClock",
                columns: table => new
                {
                    Id = table.Column<int>(type: "integer", nullable: false),
                    OffsetMilliseconds = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TrialClock", x => x.Id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "TrialClock");
        }
    }
}
