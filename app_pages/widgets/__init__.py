"""Widget groups the pages share (`common`) and one module per page that needs many."""
